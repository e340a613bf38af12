/**
 * The envd sidecar image's entrypoint (started by the kit's own loader, so no shell and no libc
 * are needed in the image):
 *
 *   /opt/soulbox/kit/ld.so --library-path /opt/soulbox/kit/lib /opt/soulbox/kit/node \
 *     /opt/soulbox/entrypoint.mjs --port 49983 --executor-socket /soulbox/run/executor.sock
 *
 * 1. Places the executor kit on the pod's shared volume (/soulbox/kit), where the sandbox
 *    container starts the executor from. The copy goes to a private directory first and is
 *    renamed into place, so the sandbox container never sees half a kit. A kit with our VERSION
 *    is left alone: a restarted sidecar must not replace files the running executor has mapped.
 *    With SOULBOX_KIT_VOLUME=image the pod mounts the kit from this image read-only into the
 *    sandbox container (a Kubernetes image volume): nothing is copied.
 * 2. Creates /soulbox/run (the executor's socket lives there).
 * 3. Runs envd (/opt/soulbox/kit/envd.mjs) in this process with the same arguments.
 *
 * Plain JavaScript with no dependencies: it runs before anything else is there. SOULBOX_IMAGE_KIT
 * and SOULBOX_SHARED_DIR move the two directories (for tests).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Where the image holds the kit. */
const IMAGE_KIT = process.env.SOULBOX_IMAGE_KIT ?? "/opt/soulbox/kit";
/** The pod's shared volume (emptyDir), mounted in the sidecar and the sandbox container. */
const SHARED = process.env.SOULBOX_SHARED_DIR ?? "/soulbox";

/** Reads a kit's VERSION, or undefined when there is none. */
function versionOf(kitDir) {
  try {
    return readFileSync(join(kitDir, "VERSION"), "utf8").trim();
  } catch (err) {
    if (err.code === "ENOENT") return undefined;
    throw err;
  }
}

/** Makes `<shared>/kit` hold the kit of `imageKit`; returns what it did ("kept" or "copied"). */
function placeKit(imageKit = IMAGE_KIT, shared = SHARED) {
  const ours = versionOf(imageKit);
  if (!ours)
    throw new Error(`${imageKit}/VERSION is missing: this image does not hold an executor kit`);
  if (!existsSync(shared))
    throw new Error(`${shared} does not exist: mount the pod's shared volume there`);
  const target = join(shared, "kit");
  if (versionOf(target) === ours) return "kept";

  const tmp = join(shared, `.kit-tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    cpSync(imageKit, tmp, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`copying the executor kit to ${tmp} failed: ${err.message}`);
  }
  // An older kit (another version) moves aside first: rename() cannot replace a non-empty
  // directory, and a process that still maps its files keeps them until it exits.
  if (existsSync(target)) {
    const old = join(shared, `.kit-old-${process.pid}`);
    renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
  return "copied";
}

/** How the sandbox container gets the kit: "image" (mounted by the pod) or "copy" (by us). */
function kitVolume() {
  const v = process.env.SOULBOX_KIT_VOLUME ?? "copy";
  if (v !== "image" && v !== "copy")
    throw new Error(`SOULBOX_KIT_VOLUME must be image or copy, got '${v}'`);
  return v;
}

const MESSAGES = {
  kept: "executor kit already in place",
  copied: "executor kit placed",
  mounted: "executor kit mounted from the envd image: nothing copied",
};

/** Steps 1 to 3 above; errors end the process with a message that says what to fix. */
async function main() {
  const started = Date.now();
  let placed;
  try {
    placed = kitVolume() === "image" ? "mounted" : placeKit();
    mkdirSync(join(SHARED, "run"), { recursive: true });
  } catch (err) {
    console.error(`envd entrypoint: ${err.message}`);
    process.exit(1);
  }
  console.error(
    JSON.stringify({
      ts: new Date().toISOString(),
      level: "info",
      msg: MESSAGES[placed],
      kit: join(SHARED, "kit"),
      version: versionOf(IMAGE_KIT),
      ms: Date.now() - started,
    }),
  );
  // envd reads process.argv.slice(2): the arguments given to this script are envd's.
  await import(pathToFileURL(join(IMAGE_KIT, "envd.mjs")).href);
}

await main();
