import { containerEnv, processEnv } from "./process-env.js";
import type { UnixUser } from "./users.js";

describe("containerEnv", () => {
  test.each([
    [{}, {}],
    [
      { GREETING: "hi", PATH: "/opt/py/bin:/usr/bin" },
      { GREETING: "hi", PATH: "/opt/py/bin:/usr/bin" },
    ],
    [{ HOME: "/root", USER: "root", SHELL: "/bin/sh", PWD: "/", A: "1" }, { A: "1" }],
    [{ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_PORT: "tcp://x", K: "v" }, { K: "v" }],
    [{ EMPTY: "", GONE: undefined }, { EMPTY: "" }],
  ])("%j → %j", (env, want) => {
    expect(containerEnv(env)).toEqual(want);
  });
});

test("processEnv: the user's base, then sandbox-wide variables, then the request's", () => {
  const user = {
    name: "user",
    uid: 1000,
    gid: 1000,
    home: "/home/user",
    shell: "/bin/bash",
  } as UnixUser;
  expect(
    processEnv(
      user,
      { PATH: "/opt/py/bin:/usr/bin", A: "sandbox", B: "sandbox" },
      { B: "request" },
    ),
  ).toEqual({
    PATH: "/opt/py/bin:/usr/bin",
    HOME: "/home/user",
    USER: "user",
    LOGNAME: "user",
    SHELL: "/bin/bash",
    LANG: "C.UTF-8",
    A: "sandbox",
    B: "request",
  });
});
