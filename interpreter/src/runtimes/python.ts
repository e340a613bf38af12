import { startJupyterSession } from "./jupyter-session.js";
import type { RuntimeAdapter } from "./types.js";

/** Python on ipykernel (stateful), with SoulBox's helper (charts, DataFrames, env) loaded. */
export const pythonRuntime: RuntimeAdapter = {
  name: "python",
  languages: ["python", "python3", "py"],
  extensions: [".py"],
  shebangs: ["python", "python3"],
  features: {
    stateful: true,
    typescript: false,
    topLevelAwait: true,
    permissions: false,
    packageInstall: true,
  },
  start: ({ cwd, env, config }) =>
    startJupyterSession(
      {
        argv: [config.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        interruptMode: "signal",
      },
      {
        cwd,
        env: {
          ...env,
          // Figures display inline (PNG + the chart formatter) at the end of a cell, with no GUI.
          MPLBACKEND: "module://matplotlib_inline.backend_inline",
          PYTHONUNBUFFERED: "1",
        },
        setup: [
          "import sys as _sbx_sys",
          `_sbx_sys.path.insert(0, ${JSON.stringify(config.helperDir)})`,
          "import soulbox_kernel as _sbx",
          "_sbx.install()",
          "del _sbx_sys",
        ].join("\n"),
        envCode: {
          // JSON text is a valid Python string literal once JSON-quoted again.
          set: (vars) => `_sbx.set_env(${JSON.stringify(JSON.stringify(vars))})`,
          restore: () => "_sbx.restore_env()",
        },
      },
    ),
};
