import { parseGroup, parsePasswd } from "./users.js";

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
