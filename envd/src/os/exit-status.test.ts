import { describeExit } from "./exit-status.js";

describe("describeExit", () => {
  test.each([
    [0, null, { exitCode: 0, exited: true, status: "exit status 0" }],
    [3, null, { exitCode: 3, exited: true, status: "exit status 3", error: "exit status 3" }],
    [
      null,
      "SIGKILL",
      { exitCode: -1, exited: false, status: "signal: killed", error: "signal: killed" },
    ],
    [
      null,
      "SIGTERM",
      { exitCode: -1, exited: false, status: "signal: terminated", error: "signal: terminated" },
    ],
    [
      null,
      "SIGWINCH",
      { exitCode: -1, exited: false, status: "signal: SIGWINCH", error: "signal: SIGWINCH" },
    ],
  ])("code %s signal %s", (code, signal, expected) => {
    expect(describeExit(code, signal)).toEqual(expected);
  });
});
