import { parseBasicUser } from "./basic-auth.js";

const basic = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;

describe("parseBasicUser", () => {
  test.each([
    [undefined, undefined],
    [null, undefined],
    ["", undefined],
    [basic("user:"), "user"],
    [basic("root:"), "root"],
    [basic("user:ignored-password"), "user"],
    [basic(":"), undefined],
  ])("%s → %s", (header, user) => {
    expect(parseBasicUser(header)).toBe(user);
  });

  test.each([["Bearer abc"], ["Basic !!!"], [basic("bad user:")], [basic("../etc:")]])(
    "refuses %s",
    (header) => {
      expect(() => parseBasicUser(header)).toThrow(/Authorization header|not a valid user name/);
    },
  );
});
