import { parseConfig } from "./config.js";

describe("parseConfig", () => {
  test("defaults", () => {
    expect(parseConfig([], {})).toEqual({
      port: 49983,
      host: "0.0.0.0",
      accessToken: undefined,
      executorSocket: undefined,
      defaultUser: undefined,
      auditLog: undefined,
    });
  });

  test("flags and the token from the environment", () => {
    const c = parseConfig(["--port", "1234", "--default-user", "root"], { ENVD_ACCESS_TOKEN: "t" });
    expect(c).toMatchObject({ port: 1234, accessToken: "t", defaultUser: "root" });
  });

  test("--help", () => {
    expect(parseConfig(["--help"], {})).toBe("help");
  });

  test.each([
    [["--port", "http"], /--port must be an integer/],
    [["--port", "70000"], /--port must be an integer/],
    [["--access-token", ""], /must not be empty/],
    [["--bogus"], /Unknown option/],
  ])("refuses %j", (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(message);
  });
});
