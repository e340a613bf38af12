// Fails when the checked-in generated protobuf code differs from what buf
// generates from proto/ now. Generates into a temporary folder so a stale
// tree is reported, never silently rewritten.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const checkedIn = "api/gen/envd";
const tmp = mkdtempSync(join(tmpdir(), "soulbox-gen-"));
try {
  const template = readFileSync("buf.gen.yaml", "utf8").replace(`out: ${checkedIn}`, `out: ${tmp}`);
  const templatePath = join(tmp, "buf.gen.yaml");
  writeFileSync(templatePath, template);
  execFileSync("buf", ["generate", "--template", templatePath], { stdio: "inherit" });
  const list = (dir) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".ts"))
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort();
  const fresh = list(tmp);
  const old = list(checkedIn);
  const stale = [...new Set([...fresh, ...old])].filter((f) => {
    try {
      return readFileSync(join(tmp, f), "utf8") !== readFileSync(join(checkedIn, f), "utf8");
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    console.error(`generated code is stale (run \`npm run generate\`): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log("generated code is current");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
