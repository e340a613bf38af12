import { processSession } from "./process-session.js";
import type { RuntimeAdapter } from "./types.js";

/** Node.js: each cell is an ES module run by a fresh `node` (stateless; top-level await works). */
export const nodeRuntime: RuntimeAdapter = {
  name: "node",
  languages: ["node", "nodejs"],
  extensions: [".js", ".mjs", ".cjs"],
  shebangs: ["node", "nodejs"],
  features: {
    stateful: false,
    typescript: false,
    topLevelAwait: true,
    permissions: true,
    packageInstall: false,
  },
  start: async ({ cwd, env, config }) =>
    processSession({ argv: [config.node], fileName: "cell.mjs", cwd, env }),
};
