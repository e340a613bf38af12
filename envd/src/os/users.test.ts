import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvdError } from "../shared/errors.js";
import { createUserDatabase, parseGroup, parsePasswd } from "./users.js";

describe("parsePasswd", () => {
  test("reads accounts and skips junk", () => {
    const text = [
      "root:x:0:0:root:/root:/bin/bash",
      "# comment",
      "broken:line",
      "user:x:1000:1000::/home/user:/bin/bash",
      "nohome:x:1001:1001:::",
      "bad:x:abc:0::/:/bin/sh",
    ].join("\n");
    expect(parsePasswd(text)).toEqual([
      { name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash" },
      { name: "user", uid: 1000, gid: 1000, home: "/home/user", shell: "/bin/bash" },
      { name: "nohome", uid: 1001, gid: 1001, home: "/", shell: "/bin/sh" },
    ]);
  });
});

describe("parseGroup", () => {
  test("maps gid to name", () => {
    const groups = parseGroup("root:x:0:\nsudo:x:27:user\n\nbroken\n");
    expect([...groups]).toEqual([
      [0, "root"],
      [27, "sudo"],
    ]);
  });
});

describe("createUserDatabase", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sbx-users-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("an image without /etc/passwd still has root (uid 0), and no other user", async () => {
    const db = createUserDatabase(join(dir, "missing-passwd"), join(dir, "missing-group"));
    await expect(db.lookup("root")).resolves.toMatchObject({ name: "root", uid: 0, gid: 0 });
    await expect(db.lookup("user")).rejects.toBeInstanceOf(EnvdError);
    expect(await db.userName(0)).toBe("0");
  });

  test("root from the file wins over the fallback", async () => {
    writeFileSync(join(dir, "passwd"), "root:x:0:0:root:/srv/root:/bin/ash\n");
    const db = createUserDatabase(join(dir, "passwd"), join(dir, "group"));
    await expect(db.lookup("root")).resolves.toEqual({
      name: "root",
      uid: 0,
      gid: 0,
      home: "/srv/root",
      shell: "/bin/ash",
    });
  });
});
