import {
  RUNTIME_TABLE,
  detectRuntimeSpec,
  runtimeByName,
  type OneShotCommand,
  type RuntimeSpec,
} from "../../../../api/runtimes.js";
import { EnvdError } from "../../shared/errors.js";

/** A runtime chosen for a Run, with the command that runs code in it once. */
export interface ChosenRuntime {
  spec: RuntimeSpec;
  oneShot: OneShotCommand;
}

const runnable = () =>
  RUNTIME_TABLE.filter((r) => r.oneShot)
    .map((r) => r.name)
    .join(", ");

/**
 * Picks the runtime of a Run request: by name or language when given, else detected from the
 * file name's extension or the code's shebang. Throws `invalid_argument` (listing the runtimes
 * Run supports) when the name is unknown, nothing was detected, or the runtime cannot run code
 * once. Pure.
 */
export function chooseRuntime(req: {
  runtime: string;
  fileName: string;
  code: string;
}): ChosenRuntime {
  const spec = req.runtime.trim()
    ? runtimeByName(req.runtime)
    : detectRuntimeSpec({ fileName: req.fileName, code: req.code });
  if (!spec) {
    const what = req.runtime.trim()
      ? `unknown runtime '${req.runtime}'`
      : "no runtime given, and none detected from the file name or a shebang line";
    throw new EnvdError("invalid_argument", `${what}; supported runtimes are ${runnable()}`);
  }
  if (!spec.oneShot) {
    throw new EnvdError(
      "invalid_argument",
      `runtime '${spec.name}' serves a module and does not run code once; supported runtimes are ${runnable()}`,
    );
  }
  return { spec, oneShot: spec.oneShot };
}
