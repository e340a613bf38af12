import type { Condition, Sandbox } from "../../../api/gen/crd-types.js";
import { conditionFixture, sandboxFixture } from "../../../api/test-support/fixtures.js";
import { desiredSandbox, startFailure } from "./create.js";

const size = { cpuCount: 1, memoryMB: 0, diskSizeMB: 0 };
const request = {
  templateID: "base",
  timeoutSeconds: 60,
  metadata: {},
  envVars: {},
  autoPause: false,
  autoResume: false,
};

test.each([
  [{}, { onTimeout: "Delete", timeoutSeconds: 60 }, {}],
  [
    { autoPause: true, autoResume: true, metadata: { a: "b" } },
    { onTimeout: "Pause", metadata: { a: "b" } },
    { "soulbox.dev/auto-resume": "true" },
  ],
  [{ envVars: { K: "v" } }, { envFrom: [{ secretRef: { name: "id1-env" } }] }, {}],
  [{ network: { denyEgress: [] } }, { network: { denyEgress: [] } }, {}],
  [{ timeoutSeconds: 0 }, { timeoutSeconds: 1 }, {}],
  [{ timeoutSeconds: 86400 }, { timeoutSeconds: 86400 }, {}],
])("desired Sandbox for %j", (over, spec, annotations) => {
  const sb = desiredSandbox("id1", "team-a", { ...request, ...over }, size);
  expect(sb.metadata).toMatchObject({
    name: "id1",
    namespace: "team-a",
    labels: { "soulbox.dev/team": "team-a" },
    annotations,
  });
  // The timeout runs from Ready (spec.timeoutSeconds), so no deadline is written at creation.
  expect(sb.metadata.annotations?.["soulbox.dev/expires-at"]).toBeUndefined();
  expect(sb.spec).toMatchObject({ templateRef: "soulbox-template-base", ...spec });
  expect(JSON.stringify(sb)).not.toContain('"v"'); // env values never in the Sandbox
});

test.each([
  [
    { pauseMode: "Filesystem" as const },
    { templateRef: "soulbox-template-base", pauseMode: "Filesystem" },
    {},
  ],
  [
    { restoreFrom: { snapshot: "snap1", templateID: "base" } },
    { restoreFrom: "snap1" },
    { "soulbox.dev/template-id": "base" },
  ],
])("a create with %j", (over, spec, annotations) => {
  const sb = desiredSandbox("id1", "team-a", { ...request, ...over }, size);
  expect(sb.spec).toMatchObject(spec);
  expect(sb.metadata.annotations).toMatchObject(annotations);
  // A restored sandbox names its snapshot only: the CRD allows one of template, templateRef, restoreFrom.
  if ("restoreFrom" in over) expect(sb.spec.templateRef).toBeUndefined();
  else expect(sb.spec.restoreFrom).toBeUndefined();
});

const ready = (status: Condition["status"], reason: string, message = "m") =>
  conditionFixture("Ready", status, reason, message);
const withStatus = (status: Sandbox["status"]) =>
  sandboxFixture({ metadata: { name: "id1", namespace: undefined }, spec: {}, status });

test.each([
  [{ phase: "Starting" as const, conditions: [ready("False", "Starting")] }, undefined],
  [{ phase: "Running" as const, conditions: [ready("True", "EnvdReady")] }, undefined],
  [
    { phase: "Failed" as const, conditions: [ready("False", "PodFailed", "evicted")] },
    /failed to start: evicted/,
  ],
  // The operator retries image pulls (phase Starting): not terminal, so the create keeps waiting.
  [
    {
      phase: "Starting" as const,
      conditions: [ready("False", "ImagePullBackOff", "no such image")],
    },
    undefined,
  ],
  // An image that can never be pulled: the operator says Failed, and that is the one verdict.
  [
    {
      phase: "Failed" as const,
      conditions: [ready("False", "InvalidImageName", "invalid reference format")],
    },
    /failed to start: invalid reference format/,
  ],
  [
    { phase: "Failed" as const, conditions: [ready("False", "TemplateInvalid", "bad template")] },
    /failed to start: bad template/,
  ],
])("startFailure(%j)", (status, message) => {
  const f = startFailure(withStatus(status));
  if (message === undefined) expect(f).toBeUndefined();
  else {
    expect(f?.status).toBe(500);
    expect(f?.message).toMatch(message);
  }
});
