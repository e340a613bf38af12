import { getSignature } from "e2b";
import { computeSignature, signaturesEqual } from "./signature.js";

describe("computeSignature", () => {
  test.each([
    {
      path: "/home/user/a.txt",
      operation: "read" as const,
      user: "user",
      expirationInSeconds: undefined,
    },
    {
      path: "/home/user/a.txt",
      operation: "write" as const,
      user: "root",
      expirationInSeconds: 120,
    },
    { path: "rel/ünï.txt", operation: "write" as const, user: "", expirationInSeconds: 5 },
  ])("matches the e2b SDK's getSignature for $operation $path as '$user'", async (c) => {
    const sdk = await getSignature({ ...c, envdAccessToken: "tok-123" });
    const mine = computeSignature({
      path: c.path,
      operation: c.operation,
      user: c.user,
      token: "tok-123",
      expiration: sdk.expiration ?? undefined,
    });
    expect(mine).toBe(sdk.signature);
    expect(mine).toMatch(/^v1_[A-Za-z0-9+/]+$/);
  });

  test("a nonce changes the signature and cannot collide with an expiration", () => {
    const base = { path: "/f", operation: "read" as const, user: "u", token: "t" };
    const withNonce = computeSignature({ ...base, nonce: "123" });
    expect(withNonce).not.toBe(computeSignature(base));
    expect(withNonce).not.toBe(computeSignature({ ...base, expiration: 123 }));
  });

  test.each([
    ["abc", "abc", true],
    ["abc", "abd", false],
    ["abc", "abcd", false],
    ["", "", true],
  ])("signaturesEqual(%s, %s) = %s", (a, b, eq) => {
    expect(signaturesEqual(a, b)).toBe(eq);
  });
});
