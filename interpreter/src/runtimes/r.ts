import { startJupyterSession, type KernelEnvCode } from "./jupyter-session.js";
import type { RuntimeAdapter } from "./types.js";

/**
 * Per-execution environment variables in R: the old values are pushed on a stack kept in the
 * global environment (a hidden name) and restored after the cell. R's strings take JSON's
 * escapes for everything JSON.stringify writes, so a JSON string is a valid R string literal.
 */
const envCode: KernelEnvCode = {
  set: (vars) => {
    const names = Object.keys(vars).map((k) => JSON.stringify(k));
    const values = Object.values(vars).map((v) => JSON.stringify(v));
    return [
      `local({ n <- c(${names.join(", ")}); v <- c(${values.join(", ")})`,
      "old <- Sys.getenv(n, unset = NA, names = TRUE)",
      "stack <- get0('.sbx_env', envir = globalenv(), inherits = FALSE, ifnotfound = list())",
      "assign('.sbx_env', c(stack, list(old)), envir = globalenv())",
      "do.call(Sys.setenv, as.list(setNames(v, n))) })",
    ].join("; ");
  },
  restore: () =>
    [
      "local({ stack <- get0('.sbx_env', envir = globalenv(), inherits = FALSE, ifnotfound = list())",
      "if (length(stack) > 0) { old <- stack[[length(stack)]]",
      "assign('.sbx_env', stack[-length(stack)], envir = globalenv())",
      "for (k in names(old)) if (is.na(old[[k]])) Sys.unsetenv(k) else do.call(Sys.setenv, setNames(list(old[[k]]), k)) } })",
    ].join("; "),
};

/** R on IRkernel (Debian's r-cran-irkernel): stateful, interrupted by SIGINT as its kernelspec says. */
export const rRuntime: RuntimeAdapter = {
  name: "r",
  languages: ["r"],
  extensions: [".r"],
  shebangs: ["Rscript"],
  features: {
    stateful: true,
    typescript: false,
    topLevelAwait: false,
    permissions: false,
    packageInstall: true,
  },
  start: ({ cwd, env, config }) =>
    startJupyterSession(
      {
        // IRkernel's own kernelspec: R --slave -e 'IRkernel::main()' --args <connection file>.
        argv: [config.r, "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"],
        interruptMode: "signal",
      },
      { cwd, env, envCode },
    ),
};
