/**
 * The program that does a volume content operation inside the content sandbox (`node -e`, one run
 * per request, as root): stat, list (with depth), mkdir, remove, metadata changes and the checks
 * before an upload, on paths under the mount. It answers one JSON line, `{ok, result}` or
 * `{ok: false, code, message}` with the errno code, which content-ops.ts maps to E2B's statuses.
 * Kept as source text because it runs in the sandbox, not in the gateway.
 */
import { CONTENT_MOUNT } from "./content-sandbox.js";

/** The program; its one argument is the JSON request `{op, path, depth?, force?, uid?, gid?, mode?}`. */
export const CONTENT_HELPER = `
const fs = require("fs"), P = require("path").posix;
const a = JSON.parse(process.argv[1]);
const ROOT = ${JSON.stringify(CONTENT_MOUNT)};
const full = (rel) => P.join(ROOT, rel);
const fail = (code) => Object.assign(new Error(code), { code });
function stat(rel) {
  const f = full(rel), s = fs.lstatSync(f);
  const type = s.isFile() ? "file" : s.isDirectory() ? "directory" : s.isSymbolicLink() ? "symlink" : "unknown";
  const o = { name: rel === "/" ? "" : P.basename(rel), type, path: rel, size: s.size, mode: s.mode & 0o7777,
    uid: s.uid, gid: s.gid, atime: s.atime.toISOString(), mtime: s.mtime.toISOString(), ctime: s.ctime.toISOString() };
  if (type === "symlink") o.target = fs.readlinkSync(f);
  return o;
}
function own(rel) {
  const f = full(rel);
  if (a.mode !== undefined) fs.chmodSync(f, a.mode);
  if (a.uid !== undefined || a.gid !== undefined) {
    const s = fs.lstatSync(f);
    fs.lchownSync(f, a.uid ?? s.uid, a.gid ?? s.gid);
  }
}
function exists(rel) {
  try { return fs.lstatSync(full(rel)); } catch (e) { if (e.code === "ENOENT") return undefined; throw e; }
}
const ops = {
  stat: () => stat(a.path),
  list() {
    if (stat(a.path).type !== "directory") throw fail("ENOTDIR");
    const out = [];
    const walk = (rel, depth) => {
      for (const n of fs.readdirSync(full(rel)).sort()) {
        const e = stat(P.join(rel, n));
        out.push(e);
        if (e.type === "directory" && depth > 1) walk(e.path, depth - 1);
      }
    };
    walk(a.path, a.depth);
    return out;
  },
  mkdir() {
    const s = exists(a.path);
    if (s && (!a.force || !s.isDirectory())) throw fail("EEXIST");
    if (!s) fs.mkdirSync(full(a.path), { recursive: !!a.force, mode: 0o755 });
    own(a.path);
    return stat(a.path);
  },
  remove() {
    if (a.path === "/" || !exists(a.path)) throw fail("ENOENT");
    fs.rmSync(full(a.path), { recursive: true });
    return null;
  },
  meta() {
    if (!exists(a.path)) throw fail("ENOENT");
    own(a.path);
    return stat(a.path);
  },
  prewrite() {
    const parent = exists(P.dirname(a.path));
    if (!parent || !parent.isDirectory()) throw fail("ENOENT");
    const s = exists(a.path);
    if (s && s.isDirectory()) throw fail("EISDIR");
    if (s && !a.force) throw fail("EEXIST");
    return null;
  },
};
let out;
try { out = { ok: true, result: ops[a.op]() }; }
catch (e) { out = { ok: false, code: e.code || "EIO", message: String(e.message || e) }; }
process.stdout.write(JSON.stringify(out));
`;
