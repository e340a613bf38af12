// Bundles the envd entry points, the operator and the gateway into single ESM files under dist/.
// node-pty and fs-xattr are native and stay external; everything else is inlined so the
// executor can later be copied into any sandbox image as one file.
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  sourcemap: true,
  external: ["node-pty", "fs-xattr"],
  banner: {
    js: "import { createRequire as __sbxCreateRequire } from 'node:module'; const require = __sbxCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
};

await build({
  ...common,
  entryPoints: { envd: "envd/src/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
await build({
  ...common,
  entryPoints: { executor: "envd/src/executor/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
await build({
  ...common,
  entryPoints: { operator: "operator/src/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
await build({
  ...common,
  entryPoints: { gateway: "gateway/src/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
