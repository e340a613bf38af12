import { processSession } from "./process-session.js";
import type { RuntimeAdapter } from "./types.js";

/** Bun: each cell is a TypeScript file run by a fresh `bun run` (stateless; TS and top-level await). */
export const bunRuntime: RuntimeAdapter = {
  name: "bun",
  languages: ["bun"],
  extensions: [],
  shebangs: ["bun"],
  features: {
    stateful: false,
    typescript: true,
    topLevelAwait: true,
    permissions: false,
    packageInstall: true,
  },
  start: async ({ cwd, env, config }) =>
    processSession({
      argv: [config.bun, "run"],
      fileName: "cell.ts",
      cwd,
      env: { ...env, NO_COLOR: "1" },
    }),
};
