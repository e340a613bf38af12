import type { V1Secret } from "@kubernetes/client-node";
import type { Sandbox } from "../../../api/gen/crd-types.js";
import { tokenFromSecret, tokenSecretName } from "../../../api/envd.js";
import { desiredTokenSecret, newAccessToken } from "./desired-secret.js";

const sb: Sandbox = {
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: { name: "sb1", namespace: "team-a", uid: "u-1" },
  spec: { template: { image: "x" } },
};

describe("desiredTokenSecret", () => {
  test("is an owned Opaque Secret named <sandbox>-envd with the token under `token`", () => {
    expect(desiredTokenSecret(sb, "t0k3n")).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "sb1-envd",
        namespace: "team-a",
        labels: {
          "soulbox.dev/sandbox": "sb1",
          "soulbox.dev/component": "token",
          "app.kubernetes.io/managed-by": "soulbox-operator",
        },
        ownerReferences: [
          {
            apiVersion: "soulbox.dev/v1alpha1",
            kind: "Sandbox",
            name: "sb1",
            uid: "u-1",
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      type: "Opaque",
      data: { token: Buffer.from("t0k3n").toString("base64") },
    });
  });

  test("refuses an empty token", () => {
    expect(() => desiredTokenSecret(sb, "")).toThrow(/must not be empty/);
  });

  test("round-trips through tokenFromSecret", () => {
    const token = newAccessToken();
    expect(tokenFromSecret(desiredTokenSecret(sb, token))).toBe(token);
  });
});

describe("tokenFromSecret", () => {
  test.each<[string, V1Secret | undefined, string | undefined]>([
    ["no Secret", undefined, undefined],
    ["no data", { metadata: { name: "x" } }, undefined],
    ["another key", { data: { other: "YQ==" } }, undefined],
    ["an empty token", { data: { token: "" } }, undefined],
    ["a token", { data: { token: Buffer.from("abc").toString("base64") } }, "abc"],
  ])("%s", (_name, secret, expected) => {
    expect(tokenFromSecret(secret)).toBe(expected);
  });
});

describe("newAccessToken", () => {
  test("is 32 random bytes, URL-safe", () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newAccessToken()));
    expect(tokens.size).toBe(100);
    for (const t of tokens) {
      expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t, "base64url")).toHaveLength(32);
    }
  });
});

describe("tokenSecretName", () => {
  test("appends -envd", () => {
    expect(tokenSecretName("a".repeat(63))).toBe(`${"a".repeat(63)}-envd`);
  });
});
