import type { Snapshot } from "../../../api/gen/crd-types.js";
import { sandboxFixture } from "../../../api/test-support/fixtures.js";
import { ApiError } from "./errors.js";
import { forkRequest, parseForkRequest } from "./fork.js";

const limits = { defaultTimeoutSeconds: 300, maxTimeoutSeconds: 3600 };

test.each([
  [{}, { timeoutSeconds: 300, count: 1 }],
  [
    { timeout: 60, count: 3 },
    { timeoutSeconds: 60, count: 3 },
  ],
  [
    { timeout: null, count: null },
    { timeoutSeconds: 300, count: 1 },
  ],
  [{ count: 100 }, { timeoutSeconds: 300, count: 100 }],
])("fork request %j", (body, expected) => {
  expect(parseForkRequest(body, limits)).toEqual(expected);
});

test.each([
  [{ count: 0 }, "Count must be at least 1"],
  [{ count: -2 }, "Count must be at least 1"],
  [{ count: 101 }, "Count cannot be greater than 100"],
  [{ count: 1.5 }, "count must be a whole number, not 1.5"],
  [{ count: "2" }, 'count must be a whole number, not "2"'],
  [{ timeout: 3601 }, "timeout 3601 s is over the maximum of 3600 s this SoulBox allows"],
  [{ timeout: -1 }, "timeout must not be negative (got -1)"],
])("refuses the fork request %j", (body, message) => {
  expect(() => parseForkRequest(body, limits)).toThrow(new ApiError(400, message));
});

const snapshot: Snapshot = {
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Snapshot",
  metadata: { name: "snap1", namespace: "team-a" },
  spec: { sandbox: "src1" },
};

test.each([
  [
    "a plain sandbox",
    { templateRef: "soulbox-template-base" },
    {},
    {
      templateID: "base",
      metadata: {},
      autoPause: false,
      autoResume: false,
      restoreFrom: { snapshot: "snap1", templateID: "base" },
    },
  ],
  [
    "metadata, egress, a filesystem timeout pause",
    {
      templateRef: "soulbox-template-py",
      metadata: { a: "b" },
      network: { allowEgress: ["1.1.1.1"] },
      onTimeout: "Pause" as const,
      timeoutSeconds: 60,
      pauseMode: "Filesystem" as const,
    },
    { "soulbox.dev/auto-resume": "true" },
    {
      templateID: "py",
      metadata: { a: "b" },
      network: { allowEgress: ["1.1.1.1"] },
      autoPause: true,
      autoResume: true,
      pauseMode: "Filesystem",
    },
  ],
  [
    "a sandbox restored itself",
    { restoreFrom: "older" },
    { "soulbox.dev/template-id": "base" },
    { templateID: "base", restoreFrom: { snapshot: "snap1", templateID: "base" } },
  ],
  [
    "a hand-made sandbox (inline template)",
    { template: { image: "x" } },
    {},
    { templateID: "snap1", restoreFrom: { snapshot: "snap1", templateID: "snap1" } },
  ],
])("a fork of %s", (_what, spec, annotations, expected) => {
  const source = sandboxFixture({ metadata: { name: "src1", annotations }, spec });
  const req = forkRequest(source, snapshot, 120, { K: "v" });
  expect(req).toMatchObject({ ...expected, timeoutSeconds: 120, envVars: { K: "v" } });
  expect(req.volumeMounts).toBeUndefined();
});
