import { EnvdError } from "../shared/errors.js";
import { computeSignature } from "../shared/signature.js";
import { authorizeFileAccess, requireToken, type FileAccess } from "./auth.js";
import { createNonceCache } from "./nonce-cache.js";

const now = Date.UTC(2026, 10, 28, 12, 0, 0);
const nowS = now / 1000;
const store = { token: "secret" };
const sign = (
  a: Partial<Omit<FileAccess, "expiration" | "nonce">> & { expiration?: number; nonce?: string },
) =>
  computeSignature({
    path: a.path ?? "/f",
    operation: a.operation ?? "read",
    user: a.user ?? "user",
    token: "secret",
    expiration: a.expiration,
    nonce: a.nonce,
  });
const access = (over: Partial<FileAccess>): FileAccess => ({
  path: "/f",
  user: "user",
  operation: "read",
  signature: null,
  expiration: null,
  nonce: null,
  ...over,
});

function kindOf(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof EnvdError ? `${err.kind}: ${err.message}` : String(err);
  }
}

describe("requireToken", () => {
  test.each([
    [undefined, undefined, "ok"],
    [undefined, "anything", "ok"],
    ["secret", "secret", "ok"],
    ["secret", undefined, "unauthenticated: missing X-Access-Token header"],
    ["secret", "wrong", "unauthenticated: invalid access token"],
  ])("token %s, header %s → %s", (token, header, expected) => {
    expect(kindOf(() => requireToken({ token }, header))).toBe(expected);
  });
});

describe("authorizeFileAccess", () => {
  test.each<[string, string | undefined, FileAccess, string]>([
    ["the token alone", "secret", access({}), "ok"],
    [
      "a wrong token even with a good signature",
      "bad",
      access({ signature: sign({}) }),
      "unauthenticated: access token present in header but does not match",
    ],
    [
      "no token and no signature",
      undefined,
      access({}),
      "unauthenticated: missing signature query parameter",
    ],
    ["a signature without expiry", undefined, access({ signature: sign({}) }), "ok"],
    [
      "a signature for another path",
      undefined,
      access({ path: "/g", signature: sign({}) }),
      "unauthenticated: invalid signature",
    ],
    [
      "a read signature used to write",
      undefined,
      access({ operation: "write", signature: sign({}) }),
      "unauthenticated: invalid signature",
    ],
    [
      "a signature for another user",
      undefined,
      access({ user: "root", signature: sign({}) }),
      "unauthenticated: invalid signature",
    ],
    [
      "an unexpired signature",
      undefined,
      access({ signature: sign({ expiration: nowS + 60 }), expiration: String(nowS + 60) }),
      "ok",
    ],
    [
      "an expired signature",
      undefined,
      access({ signature: sign({ expiration: nowS - 1 }), expiration: String(nowS - 1) }),
      "unauthenticated: signature is already expired",
    ],
    [
      "an expired signature that is also wrong: invalid first, as E2B checks",
      undefined,
      access({ signature: sign({ expiration: nowS - 5 }), expiration: String(nowS - 1) }),
      "unauthenticated: invalid signature",
    ],
    [
      "a tampered expiration",
      undefined,
      access({ signature: sign({ expiration: nowS + 60 }), expiration: String(nowS + 6000) }),
      "unauthenticated: invalid signature",
    ],
    [
      "a non-numeric expiration",
      undefined,
      access({ signature: sign({}), expiration: "soon" }),
      "invalid_argument: signature_expiration must be an integer (unix seconds)",
    ],
    [
      "a nonce without expiration",
      undefined,
      access({ signature: sign({ nonce: "n" }), nonce: "n" }),
      "invalid_argument: a signature_nonce needs a signature_expiration",
    ],
  ])("%s", (_name, header, a, expected) => {
    expect(kindOf(() => authorizeFileAccess(store, header, a, createNonceCache(), now))).toBe(
      expected,
    );
  });

  test("a one-time signature works once, then is refused as a replay", () => {
    const nonces = createNonceCache(10, () => now);
    const a = access({
      signature: sign({ expiration: nowS + 60, nonce: "n1" }),
      expiration: String(nowS + 60),
      nonce: "n1",
    });
    expect(kindOf(() => authorizeFileAccess(store, undefined, a, nonces, now))).toBe("ok");
    expect(kindOf(() => authorizeFileAccess(store, undefined, a, nonces, now))).toBe(
      "unauthenticated: signature was already used (replayed nonce)",
    );
  });

  test("without a configured token everything passes", () => {
    expect(
      kindOf(() =>
        authorizeFileAccess({ token: undefined }, undefined, access({}), createNonceCache(), now),
      ),
    ).toBe("ok");
  });
});
