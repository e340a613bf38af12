/**
 * The envd image's entrypoint, run as its own process against a fake kit (whose envd.mjs
 * prints the arguments it got): it places the kit on the shared volume atomically, keeps a kit
 * of the same VERSION untouched, replaces one of another VERSION, and says what is wrong.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ENTRYPOINT = fileURLToPath(new URL("./entrypoint.mjs", import.meta.url));

let dir: string;
let imageKit: string;
let shared: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "entrypoint-"));
  imageKit = join(dir, "image-kit");
  shared = join(dir, "shared");
  mkdirSync(join(imageKit, "lib"), { recursive: true });
  mkdirSync(shared);
  writeFileSync(join(imageKit, "VERSION"), "v2\n");
  writeFileSync(join(imageKit, "ld.so"), "loader", { mode: 0o755 });
  writeFileSync(join(imageKit, "lib", "libc.so.6"), "libc");
  writeFileSync(
    join(imageKit, "envd.mjs"),
    "console.log(JSON.stringify({ envdArgs: process.argv.slice(2) }));\n",
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function runEntrypoint(args: string[] = ["--port", "49983"], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [ENTRYPOINT, ...args], {
    env: { ...process.env, SOULBOX_IMAGE_KIT: imageKit, SOULBOX_SHARED_DIR: shared, ...env },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes a kit as an earlier sidecar left it, with a marker file the kit of the image lacks. */
function existingKit(version: string) {
  mkdirSync(join(shared, "kit"));
  writeFileSync(join(shared, "kit", "VERSION"), `${version}\n`);
  writeFileSync(join(shared, "kit", "marker"), "left by an earlier sidecar");
}

test("copies the kit, creates run/, and starts envd with the same arguments", () => {
  const r = runEntrypoint(["--port", "49983", "--executor-socket", "/soulbox/run/executor.sock"]);
  expect(r).toMatchObject({ status: 0 });
  expect(JSON.parse(r.stdout)).toEqual({
    envdArgs: ["--port", "49983", "--executor-socket", "/soulbox/run/executor.sock"],
  });
  expect(r.stderr).toContain('"msg":"executor kit placed"');
  expect(readFileSync(join(shared, "kit", "VERSION"), "utf8")).toBe("v2\n");
  expect(readFileSync(join(shared, "kit", "lib", "libc.so.6"), "utf8")).toBe("libc");
  expect(statSync(join(shared, "kit", "ld.so")).mode & 0o777).toBe(0o755);
  expect(statSync(join(shared, "run")).isDirectory()).toBe(true);
  expect(readdirSync(shared).sort()).toEqual(["kit", "run"]); // no temporary copy left behind
});

test("SOULBOX_KIT_VOLUME=image: the pod mounts the kit, so nothing is copied; envd starts", () => {
  const r = runEntrypoint(["--port", "49983"], { SOULBOX_KIT_VOLUME: "image" });
  expect(r).toMatchObject({ status: 0 });
  expect(JSON.parse(r.stdout)).toEqual({ envdArgs: ["--port", "49983"] });
  expect(r.stderr).toContain("executor kit mounted from the envd image: nothing copied");
  expect(readdirSync(shared)).toEqual(["run"]);
});

test("SOULBOX_KIT_VOLUME of another value: exits 1 with a message, envd not started", () => {
  const r = runEntrypoint(["--port", "49983"], { SOULBOX_KIT_VOLUME: "mount" });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/SOULBOX_KIT_VOLUME must be image or copy, got 'mount'/);
  expect(r.stdout).not.toContain("envdArgs");
  expect(readdirSync(shared)).toEqual([]);
});

test.each([
  { case: "the same VERSION is kept as it is", version: "v2", kept: true },
  { case: "another VERSION is replaced", version: "v1", kept: false },
])("a kit already there: $case", ({ version, kept }) => {
  existingKit(version);
  const r = runEntrypoint();
  expect(r).toMatchObject({ status: 0 });
  expect(existsSync(join(shared, "kit", "marker"))).toBe(kept);
  expect(readFileSync(join(shared, "kit", "VERSION"), "utf8")).toBe("v2\n");
  expect(r.stderr).toContain(kept ? "executor kit already in place" : "executor kit placed");
  expect(readdirSync(shared).sort()).toEqual(["kit", "run"]);
});

test.each([
  {
    case: "an image without a kit VERSION",
    breakIt: () => rmSync(join(imageKit, "VERSION")),
    message: /image-kit\/VERSION is missing: this image does not hold an executor kit/,
  },
  {
    case: "no shared volume",
    breakIt: () => rmSync(shared, { recursive: true }),
    message: /shared does not exist: mount the pod's shared volume there/,
  },
])("$case: exits 1 with a message, envd not started", ({ breakIt, message }) => {
  breakIt();
  const r = runEntrypoint();
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).not.toContain("envdArgs");
});
