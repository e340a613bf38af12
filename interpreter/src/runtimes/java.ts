import { join } from "node:path";
import { startJupyterSession } from "./jupyter-session.js";
import type { RuntimeAdapter } from "./types.js";

/**
 * Java on SoulBox's JShell kernel (interpreter/java: JJava's Jupyter base library around a
 * JShell): stateful, interrupted by an interrupt_request (JShell stops the cell's thread). A JVM
 * cannot change its own environment, so env vars per execution are refused with a clear error.
 */
export const javaRuntime: RuntimeAdapter = {
  name: "java",
  languages: ["java"],
  extensions: [".java", ".jsh"],
  shebangs: ["java", "jshell"],
  features: {
    stateful: true,
    typescript: false,
    topLevelAwait: false,
    permissions: false,
    packageInstall: false,
  },
  start: ({ cwd, env, config }) =>
    startJupyterSession(
      {
        argv: [
          config.java,
          "-cp",
          join(config.javaKernelDir, "*"),
          "dev.soulbox.kernel.JavaKernel",
          "{connection_file}",
        ],
        interruptMode: "message",
      },
      { cwd, env, language: "Java" },
    ),
};
