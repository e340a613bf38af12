import { readFileSync } from "node:fs";
import { ENVD_NODE_FLAGS, tokenFromSecret, tokenSecretName } from "./envd.js";

test("the envd image's entrypoint passes envd's Node.js flags (the shell cannot import them)", () => {
  const images = readFileSync(new URL("../e2e/cluster/lib/images.sh", import.meta.url), "utf8");
  const declared = /^\s*local envd_node_flags=\(([^)]*)\)$/m.exec(images)?.[1];
  expect(declared?.split(/\s+/)).toEqual(ENVD_NODE_FLAGS);
});

test.each([
  ["a token", { data: { token: Buffer.from("s3cret").toString("base64") } }, "s3cret"],
  ["an empty token", { data: { token: "" } }, undefined],
  ["no data", {}, undefined],
  ["no Secret", undefined, undefined],
])("tokenFromSecret: %s", (_what, secret, token) => {
  expect(tokenFromSecret(secret)).toBe(token);
});

test("the token Secret is named after its sandbox", () => {
  expect(tokenSecretName("sb1")).toBe("sb1-envd");
});
