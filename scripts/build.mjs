// Bundles the envd entry points, the operator, the gateway and the GPU device plugin into single ESM files under dist/.
// node-pty and fs-xattr are native and stay external; everything else is inlined so the
// executor can later be copied into any sandbox image as one file.
import { copyFileSync } from "node:fs";
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
await build({
  ...common,
  entryPoints: { "gpu-plugin": "gpu/src/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
await build({
  ...common,
  entryPoints: { "node-agent": "node-agent/src/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
await build({
  ...common,
  entryPoints: { "code-interpreter": "interpreter/src/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
});
// The code interpreter loads its Python helper into every Python kernel from beside itself.
copyFileSync("interpreter/python/soulbox_kernel.py", "dist/soulbox_kernel.py");
// The device plugin loads the kubelet's .proto at runtime (gpu/src/api.ts looks beside itself).
copyFileSync("gpu/proto/api.proto", "dist/gpu-plugin.proto");
