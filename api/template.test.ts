import type { V1ConfigMap } from "@kubernetes/client-node";
import type { SandboxSpec, SandboxTemplate, Snapshot } from "./gen/crd-types.js";
import { resolveTemplate, TemplateError, type TemplateErrorReason } from "./template.js";
import { sandboxFixture } from "./test-support/fixtures.js";

const sandbox = (spec: SandboxSpec) => sandboxFixture({ metadata: { uid: "u-1" }, spec });

const configMap = (template: string | undefined): V1ConfigMap => ({
  metadata: { name: "python", namespace: "team-a" },
  data: template === undefined ? { other: "x" } : { template },
});

const ref = { templateRef: "python" };

describe("resolveTemplate resolves", () => {
  test.each<[string, SandboxSpec, V1ConfigMap | undefined, SandboxTemplate]>([
    [
      "an inline template",
      { template: { image: "python:3.12" } },
      undefined,
      { image: "python:3.12" },
    ],
    [
      "an inline template with every field",
      {
        template: {
          image: "python:3.12",
          command: ["python", "-m", "http.server"],
          args: ["8000"],
          env: [{ name: "A", value: "1" }, { name: "B" }],
          resources: {
            requests: { cpu: "500m", memory: "1Gi" },
            limits: { cpu: 1, memory: "1Gi" },
          },
          runtimeClassName: "kata",
        },
      },
      undefined,
      {
        image: "python:3.12",
        command: ["python", "-m", "http.server"],
        args: ["8000"],
        env: [{ name: "A", value: "1" }, { name: "B" }],
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: 1, memory: "1Gi" } },
        runtimeClassName: "kata",
      },
    ],
    [
      "a YAML template from a ConfigMap",
      ref,
      configMap(
        [
          "image: python:3.12",
          "command: [sleep, infinity]",
          "env:",
          "  - name: GREETING",
          "    value: 'yes'",
          "resources:",
          "  limits: {cpu: 0.5, memory: 512Mi}",
        ].join("\n"),
      ),
      {
        image: "python:3.12",
        command: ["sleep", "infinity"],
        env: [{ name: "GREETING", value: "yes" }],
        resources: { limits: { cpu: 0.5, memory: "512Mi" } },
      },
    ],
    [
      "a JSON template from a ConfigMap",
      ref,
      configMap('{"image": "node:24", "args": ["server.js"]}'),
      { image: "node:24", args: ["server.js"] },
    ],
    [
      "YAML 1.2: yes stays a string",
      ref,
      configMap("image: busybox\ncommand: [echo, yes]"),
      { image: "busybox", command: ["echo", "yes"] },
    ],
    [
      "null fields are dropped",
      ref,
      configMap("image: busybox\ncommand: null\nenv: ~"),
      { image: "busybox" },
    ],
    [
      "a limit equal to its request in another notation",
      {
        template: { image: "x", resources: { requests: { cpu: "100m" }, limits: { cpu: "0.1" } } },
      },
      undefined,
      { image: "x", resources: { requests: { cpu: "100m" }, limits: { cpu: "0.1" } } },
    ],
  ])("%s", (_name, spec, cm, expected) => {
    expect(resolveTemplate(sandbox(spec), cm)).toEqual(expected);
  });

  test("the result is a copy: changing it leaves the Sandbox alone", () => {
    const sb = sandbox({ template: { image: "x", command: ["a"] } });
    resolveTemplate(sb, undefined).command?.push("b");
    expect(sb.spec.template?.command).toEqual(["a"]);
  });
});

describe("resolveTemplate with spec.restoreFrom", () => {
  const snap = (status: Snapshot["status"]): Snapshot => ({
    apiVersion: "soulbox.dev/v1alpha1",
    kind: "Snapshot",
    metadata: { name: "snap-1", namespace: "team-a" },
    spec: { sandbox: "sb" },
    ...(status ? { status } : {}),
  });
  const sb = sandbox({ restoreFrom: "snap-1" });
  test("takes the template the Ready Snapshot recorded", () => {
    const template = { image: "img:1", command: ["serve"] };
    expect(resolveTemplate(sb, undefined, snap({ phase: "Ready", template }))).toEqual(template);
  });
  test.each<[string, Snapshot["status"], TemplateErrorReason, RegExp]>([
    [
      "still being taken",
      { phase: "InProgress" },
      "SnapshotNotReady",
      /not Ready yet \(phase InProgress\)/,
    ],
    ["never started", undefined, "SnapshotNotReady", /phase Pending/],
    ["failed", { phase: "Failed" }, "SnapshotFailed", /failed and holds nothing/],
    [
      "Ready with a bad template",
      { phase: "Ready", template: { command: ["x"] } },
      "TemplateInvalid",
      /Snapshot snap-1 status.template/,
    ],
  ])("refuses a Snapshot %s", (_, status, reason, message) => {
    let caught: unknown;
    try {
      resolveTemplate(sb, undefined, snap(status));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    expect(caught).toMatchObject({ reason });
    expect((caught as Error).message).toMatch(message);
  });
});

describe("resolveTemplate refuses", () => {
  test.each<[string, SandboxSpec, V1ConfigMap | undefined, TemplateErrorReason, RegExp]>([
    [
      "restoreFrom a Snapshot that does not exist",
      { restoreFrom: "snap-1" },
      undefined,
      "SnapshotNotFound",
      /Snapshot "snap-1" does not exist in namespace team-a/,
    ],
    ["no template at all", {}, undefined, "TemplateInvalid", /names no template/],
    [
      "a missing ConfigMap",
      ref,
      undefined,
      "TemplateNotFound",
      /ConfigMap "python" does not exist in namespace team-a/,
    ],
    [
      "a ConfigMap without the key",
      ref,
      configMap(undefined),
      "TemplateInvalid",
      /has no key "template"/,
    ],
    [
      "broken YAML",
      ref,
      configMap("image: [unclosed"),
      "TemplateInvalid",
      /is not valid YAML or JSON/,
    ],
    ["duplicate keys", ref, configMap("image: a\nimage: b"), "TemplateInvalid", /not valid YAML/],
    [
      "an empty template",
      ref,
      configMap(""),
      "TemplateInvalid",
      /is empty: a template needs at least an image/,
    ],
    ["a list", ref, configMap("- image: a"), "TemplateInvalid", /must be a mapping.*not a list/],
    [
      "a scalar",
      ref,
      configMap("python:3.12"),
      "TemplateInvalid",
      /must be a mapping.*not the text "python:3.12"/,
    ],
    ["no image", ref, configMap("command: [sh]"), "TemplateInvalid", /image is required/],
    [
      "a numeric image",
      ref,
      configMap("image: 12"),
      "TemplateInvalid",
      /image must be a string, not the number 12/,
    ],
    [
      "an image with a space",
      ref,
      configMap("image: 'a b'"),
      "TemplateInvalid",
      /must not contain spaces/,
    ],
    [
      "a misspelt key",
      ref,
      configMap("image: a\nimgae: b"),
      "TemplateInvalid",
      /unknown key "imgae" \(known: image, command/,
    ],
    [
      "command as a string",
      ref,
      configMap("image: a\ncommand: sleep 1"),
      "TemplateInvalid",
      /command must be a list of strings/,
    ],
    [
      "a numeric argument",
      ref,
      configMap("image: a\nargs: [8000]"),
      "TemplateInvalid",
      /args\[0\] must be a string, not the number 8000 \(quote it\)/,
    ],
    [
      "a bad env name",
      ref,
      configMap("image: a\nenv: [{name: 1X}]"),
      "TemplateInvalid",
      /environment variable name "1X" is not valid/,
    ],
    [
      "an env without name",
      ref,
      configMap("image: a\nenv: [{value: x}]"),
      "TemplateInvalid",
      /env\[0\] needs a name/,
    ],
    [
      "a numeric env value",
      ref,
      configMap("image: a\nenv: [{name: PORT, value: 8080}]"),
      "TemplateInvalid",
      /env PORT: value must be a string, not the number 8080 \(quote it\)/,
    ],
    [
      "a duplicate env name",
      ref,
      configMap("image: a\nenv: [{name: A}, {name: A}]"),
      "TemplateInvalid",
      /"A" is set twice/,
    ],
    [
      "an env secretKeyRef",
      ref,
      configMap("image: a\nenv: [{name: A, valueFrom: {}}]"),
      "TemplateInvalid",
      /unknown key "valueFrom".*spec.envFrom/,
    ],
    [
      "a bad quantity",
      ref,
      configMap("image: a\nresources: {limits: {memory: 1GB}}"),
      "TemplateInvalid",
      /limits.memory: "1GB" is not a quantity/,
    ],
    [
      "a negative quantity",
      ref,
      configMap("image: a\nresources: {requests: {cpu: -1}}"),
      "TemplateInvalid",
      /must not be negative/,
    ],
    [
      "a GPU resource",
      ref,
      configMap("image: a\nresources: {limits: {nvidia.com/gpu: 1}}"),
      "TemplateInvalid",
      /ask for GPUs with spec.gpu/,
    ],
    [
      "a limit below its request",
      ref,
      configMap("image: a\nresources: {requests: {cpu: 2}, limits: {cpu: 1500m}}"),
      "TemplateInvalid",
      /limit of cpu \(1500m\) is below its request \(2\)/,
    ],
    [
      "an unknown resources key",
      ref,
      configMap("image: a\nresources: {claims: []}"),
      "TemplateInvalid",
      /resources has unknown key "claims"/,
    ],
    [
      "a bad runtime class",
      ref,
      configMap("image: a\nruntimeClassName: Kata_Fast"),
      "TemplateInvalid",
      /runtimeClassName "Kata_Fast" is not a RuntimeClass name/,
    ],
    [
      "an invalid inline template",
      { template: { image: "" } },
      undefined,
      "TemplateInvalid",
      /^spec.template: image is required/,
    ],
  ])("%s", (_name, spec, cm, reason, message) => {
    let caught: unknown;
    try {
      resolveTemplate(sandbox(spec), cm);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    const err = caught as TemplateError;
    expect(err.reason).toBe(reason);
    expect(err.message).toMatch(message);
  });

  test("a YAML error keeps its cause and names where the template is", () => {
    let caught: unknown;
    try {
      resolveTemplate(sandbox(ref), configMap("image: [unclosed"));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    expect((caught as TemplateError).message).toMatch(/^ConfigMap "python" key "template"/);
    expect((caught as TemplateError).cause).toBeInstanceOf(Error);
  });

  test("an alias bomb is refused, not expanded", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 12; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(", ")}]`,
      );
    lines.push("image: x");
    expect(() => resolveTemplate(sandbox(ref), configMap(lines.join("\n")))).toThrow(/alias/);
  });
});
