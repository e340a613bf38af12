import { EnvdError } from "../../shared/errors.js";
import { chooseRuntime } from "./choose.js";

describe("chooseRuntime", () => {
  it.each([
    [{ runtime: "Python", fileName: "", code: "" }, "python", "python3"],
    [{ runtime: "ts", fileName: "x.py", code: "" }, "typescript", "deno"],
    [{ runtime: "", fileName: "a/b/run.sh", code: "" }, "bash", "bash"],
    [{ runtime: " ", fileName: "", code: "#!/usr/bin/env Rscript\ncat(1)" }, "r", "Rscript"],
    [{ runtime: "java", fileName: "", code: "" }, "java", "jshell"],
  ])("%j → %s via %s", (req, name, binary) => {
    const chosen = chooseRuntime(req);
    expect(chosen.spec.name).toBe(name);
    expect(chosen.oneShot.binary).toBe(binary);
  });

  it.each([
    [
      { runtime: "cobol", fileName: "", code: "" },
      /^unknown runtime 'cobol'; supported runtimes are python, deno, typescript, node, bun, bash, r, java$/,
    ],
    [
      { runtime: "", fileName: "notes.txt", code: "print(1)" },
      /^no runtime given, and none detected .*; supported runtimes are python/,
    ],
    [{ runtime: "workerd", fileName: "", code: "" }, /^runtime 'edge' serves a module/],
  ])("%j is refused", (req, message) => {
    let caught: unknown;
    try {
      chooseRuntime(req);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EnvdError);
    expect((caught as EnvdError).kind).toBe("invalid_argument");
    expect((caught as EnvdError).message).toMatch(message);
  });
});
