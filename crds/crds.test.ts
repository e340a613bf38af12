/**
 * The CRDs in this folder, installed with `kubectl apply -f crds/` into the real API server of the
 * test run: what it accepts and defaults, what it refuses (HTTP 422, with the message a person
 * reads), the status subresource, and what `kubectl get` prints. The objects are written with the
 * types generated from these same CRDs, so the types and the schemas are checked together.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import {
  kubeConfig,
  testNamespace,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "../e2e/cluster/test-support/cluster.js";
import {
  GpuAllocationResource,
  SandboxPoolResource,
  SandboxResource,
  SnapshotResource,
} from "../api/gen/crd-types.js";
import type {
  GpuAllocation,
  GpuAllocationSpec,
  Sandbox,
  SandboxPool,
  SandboxSpec,
  Snapshot,
  SnapshotSpec,
  SnapshotStatus,
} from "../api/gen/crd-types.js";

const KUBECTL = fileURLToPath(new URL("../e2e/cluster/.bin/kubectl", import.meta.url));
const CRDS = fileURLToPath(new URL("./", import.meta.url));

const kc = kubeConfig();
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
let ns: { name: string; dispose(): Promise<void> };

function kubectl(args: string[]): string {
  return execFileSync(KUBECTL, args, { encoding: "utf8", env: process.env });
}

// The CRDs stay installed after this file: they are cluster-scoped and the same for every test
// file, so another file may be using them; the cluster itself goes away at the end of the run.
beforeAll(() => {
  kubectl(["apply", "-f", CRDS]);
  kubectl([
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    `crd/${SandboxResource.plural}.${SandboxResource.group}`,
    `crd/${SnapshotResource.plural}.${SnapshotResource.group}`,
    `crd/${GpuAllocationResource.plural}.${GpuAllocationResource.group}`,
    `crd/${SandboxPoolResource.plural}.${SandboxPoolResource.group}`,
  ]);
});
beforeEach(async () => {
  ns = await testNamespace(kc, "crd");
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await ns.dispose();
});

type Resource =
  | typeof SandboxResource
  | typeof SnapshotResource
  | typeof GpuAllocationResource
  | typeof SandboxPoolResource;
interface Obj {
  metadata: k8s.V1ObjectMeta;
}

let serial = 0;
/** A name no other object in this run has. */
const fresh = (prefix = "x") => `${prefix}-${++serial}`;

/** Create, read and replace one kind in the test's namespace, typed with the generated types. */
function client<T extends Obj>(r: Resource) {
  const at = { group: r.group, version: r.version, plural: r.plural };
  return {
    create(spec: unknown, name = fresh(), status?: unknown): Promise<T> {
      const body = { apiVersion: r.apiVersion, kind: r.kind, metadata: { name }, spec, status };
      return custom.createNamespacedCustomObject({ ...at, namespace: ns.name, body });
    },
    get(name: string): Promise<T> {
      return custom.getNamespacedCustomObject({ ...at, namespace: ns.name, name });
    },
    replace(body: T): Promise<T> {
      const name = body.metadata.name ?? "";
      return custom.replaceNamespacedCustomObject({ ...at, namespace: ns.name, name, body });
    },
    replaceStatus(body: T): Promise<T> {
      const name = body.metadata.name ?? "";
      return custom.replaceNamespacedCustomObjectStatus({ ...at, namespace: ns.name, name, body });
    },
  };
}
const sandboxes = client<Sandbox>(SandboxResource);
const snapshots = client<Snapshot>(SnapshotResource);
const gpuAllocations = client<GpuAllocation>(GpuAllocationResource);
const pools = client<SandboxPool>(SandboxPoolResource);

/** The API server's refusal: status code and its Status message. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof k8s.ApiException))
    throw new Error(`expected the API server to refuse, got ${String(err)}`);
  const raw = String(err.body);
  let message = raw;
  try {
    message = (JSON.parse(raw) as { message?: string }).message ?? raw;
  } catch {
    // not a Status object: keep the raw body
  }
  return { code: err.code, message };
}

/** Expects a 422 whose message contains every fragment. */
async function expectRefused(p: Promise<unknown>, ...fragments: string[]): Promise<void> {
  const { code, message } = await refusal(p);
  if (code !== 422) throw new Error(`expected 422 Unprocessable Entity, got ${code}: ${message}`);
  for (const f of fragments) expect(message).toContain(f);
}

const image = { template: { image: "registry.example/library/python:3.12" } } satisfies SandboxSpec;
const now = "2026-01-01T00:00:00Z";
const ready = {
  type: "Ready",
  status: "True",
  reason: "EnvdReady",
  message: "envd answers",
  lastTransitionTime: now,
} as const;

describe("Sandbox", () => {
  test("a minimal Sandbox is accepted and defaulted: Running, Freeze, Delete", async () => {
    const created = await sandboxes.create(image, "minimal");
    expect(created.spec).toEqual({
      template: { image: "registry.example/library/python:3.12" },
      state: "Running",
      pauseMode: "Freeze",
      onTimeout: "Delete",
    });
    expect(created.status).toBeUndefined();
  });

  test("a Sandbox using every field is stored as written", async () => {
    const spec: SandboxSpec = {
      template: {
        image: "registry.example/library/python:3.12",
        command: ["python", "-m", "http.server"],
        args: ["8080"],
        env: [{ name: "MODE", value: "agent" }, { name: "EMPTY" }],
        resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: 2, memory: "2Gi" } },
        runtimeClassName: "kata",
      },
      state: "Running",
      pauseMode: "Filesystem",
      timeoutSeconds: 3600,
      onTimeout: "Pause",
      gpu: { count: 2, product: "NVIDIA-H100-80GB-HBM3", sameNuma: true },
      envFrom: [{ secretRef: { name: "api-keys" } }],
      metadata: { user: "alice", "example.com/team": "research" },
      network: {
        allowEgress: ["0.0.0.0/0", "10.1.2.0/24", "10.9.9.9", "mirror.example.net", "*.github.com"],
      },
    };
    const created = await sandboxes.create(spec);
    expect(created.spec).toEqual(spec);
    // The generated types refuse a configMapRef too: the CRD's rule makes it `never`.
    const both = { secretRef: { name: "api-keys" }, configMapRef: { name: "settings" } };
    // @ts-expect-error configMapRef is `never` in SandboxEnvFrom
    const cm: SandboxSpec = { ...image, envFrom: [both] };
    expect(cm.envFrom).toHaveLength(1);
  });

  test.each<[string, SandboxSpec]>([
    ["a templateRef alone", { templateRef: "python-3.12" }],
    ["a restoreFrom alone", { restoreFrom: "snap-1", state: "Paused" }],
    ["an empty allowEgress (no egress)", { ...image, network: { allowEgress: [] } }],
    [
      "E2B's network options (denyEgress, allowPublicTraffic, maskRequestHost)",
      {
        ...image,
        network: {
          allowEgress: ["10.104.0.1"],
          denyEgress: ["0.0.0.0/0", "::/0", "203.0.113.7"],
          allowPublicTraffic: false,
          maskRequestHost: "localhost:${PORT}",
        },
      },
    ],
  ])("accepts %s", async (_what, spec) => {
    const created = await sandboxes.create(spec);
    expect(created.spec).toMatchObject(spec);
  });

  const long = "a".repeat(64);
  // [what, spec, fragments of the message, Sandbox name]
  const refusals: [string, unknown, string[], string?][] = [
    [
      "none of template, templateRef and restoreFrom",
      { timeoutSeconds: 60 },
      [
        "spec: Required value: set one of spec.template (an image to run), spec.templateRef (a template ConfigMap) or spec.restoreFrom (a Snapshot to start from)",
      ],
    ],
    [
      "template and restoreFrom together",
      { ...image, restoreFrom: "snap-1" },
      [
        "spec: Forbidden: set only one of spec.template, spec.templateRef and spec.restoreFrom; this Sandbox sets spec.template and spec.restoreFrom",
      ],
    ],
    [
      "all three together",
      { ...image, templateRef: "t", restoreFrom: "s" },
      ["this Sandbox sets spec.template and spec.templateRef and spec.restoreFrom"],
    ],
    [
      "an unknown state",
      { ...image, state: "Sleeping" },
      ['spec.state: Unsupported value: "Sleeping": supported values: "Running", "Paused"'],
    ],
    [
      "an unknown pauseMode",
      { ...image, pauseMode: "Hibernate" },
      [
        'spec.pauseMode: Unsupported value: "Hibernate": supported values: "Freeze", "Filesystem", "Memory"',
      ],
    ],
    [
      "an unknown onTimeout",
      { ...image, onTimeout: "Kill" },
      ['spec.onTimeout: Unsupported value: "Kill": supported values: "Delete", "Pause"'],
    ],
    [
      "timeoutSeconds 0",
      { ...image, timeoutSeconds: 0 },
      [
        "spec.timeoutSeconds: Invalid value: 0: spec.timeoutSeconds in body should be greater than or equal to 1",
      ],
    ],
    [
      "timeoutSeconds over 30 days",
      { ...image, timeoutSeconds: 2592001 },
      [
        "spec.timeoutSeconds: Invalid value: 2592001: spec.timeoutSeconds in body should be less than or equal to 2592000",
      ],
    ],
    [
      "onTimeout Pause without a timeout",
      { ...image, onTimeout: "Pause" },
      [
        "spec.timeoutSeconds: Required value: onTimeout Pause needs spec.timeoutSeconds: without a timeout the sandbox is never paused",
      ],
    ],
    [
      "envFrom with a configMapRef",
      { ...image, envFrom: [{ configMapRef: { name: "settings" } }] },
      [
        "spec.envFrom[0].configMapRef: Forbidden: envFrom takes Secrets only (secretRef); put plain values in spec.template.env",
      ],
    ],
    [
      "an envFrom entry without a Secret",
      { ...image, envFrom: [{}] },
      ["spec.envFrom[0].secretRef: Required value: each envFrom entry names a Secret"],
    ],
    [
      "gpu count 0",
      { ...image, gpu: { count: 0 } },
      [
        "spec.gpu.count: Invalid value: 0: spec.gpu.count in body should be greater than or equal to 1",
      ],
    ],
    [
      "gpu count 17",
      { ...image, gpu: { count: 17 } },
      [
        "spec.gpu.count: Invalid value: 17: spec.gpu.count in body should be less than or equal to 16",
      ],
    ],
    [
      "gpu without a count",
      { ...image, gpu: { product: "x" } },
      ["spec.gpu.count: Required value"],
    ],
    [
      "pauseMode Memory with a GPU",
      { ...image, pauseMode: "Memory", gpu: { count: 1 } },
      [
        "spec.pauseMode: Forbidden: pauseMode Memory cannot be used with spec.gpu: a memory checkpoint cannot capture GPU state; use Freeze or Filesystem",
      ],
    ],
    [
      "a gpu product that is not a label value",
      { ...image, gpu: { count: 1, product: "H100 80GB" } },
      ['gpu.product "H100 80GB" is not a label value'],
    ],
    ["a template without an image", { template: {} }, ["spec.template.image: Required value"]],
    [
      "an image with a space",
      { template: { image: "python 3" } },
      ['spec.template.image: Invalid value: "string": template.image must not contain spaces'],
    ],
    [
      "an env var name starting with a digit",
      { template: { image: "x", env: [{ name: "1PASSWORD", value: "v" }] } },
      ['environment variable name "1PASSWORD" is not valid'],
    ],
    [
      "an env var given twice",
      { template: { image: "x", env: [{ name: "A" }, { name: "A" }] } },
      ['spec.template.env[1]: Duplicate value: {"name":"A"}'],
    ],
    [
      "a limit below its request",
      { template: { image: "x", resources: { requests: { cpu: "2" }, limits: { cpu: "500m" } } } },
      [
        'spec.template.resources: Invalid value: "object": template.resources: every limit must be at least its request',
      ],
    ],
    [
      "a resource amount that is not a quantity",
      { template: { image: "x", resources: { requests: { memory: "lots" } } } },
      [
        "spec.template.resources.requests[memory]",
        '"lots" is not a quantity (e.g. 500m, 2, 512Mi, 1Gi)',
      ],
    ],
    [
      "GPUs asked for in resources",
      { template: { image: "x", resources: { limits: { "nvidia.com/gpu": 1 } } } },
      ["ask for GPUs with spec.gpu, not template.resources: the operator allocates them"],
    ],
    [
      "a runtimeClassName with capitals",
      { template: { image: "x", runtimeClassName: "Kata" } },
      ['runtimeClassName "Kata" is not a RuntimeClass name'],
    ],
    [
      "a templateRef that is not a ConfigMap name",
      { templateRef: "My_Template" },
      [
        "spec.templateRef: Invalid value: \"string\": templateRef \"My_Template\" is not a ConfigMap name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
      ],
    ],
    [
      "a restoreFrom that is not a Snapshot name",
      { restoreFrom: "snap shot" },
      ['restoreFrom "snap shot" is not a Snapshot name'],
    ],
    [
      "an envFrom Secret name with capitals",
      { ...image, envFrom: [{ secretRef: { name: "API-Keys" } }] },
      [
        'spec.envFrom[0].secretRef.name: Invalid value: "string": envFrom secretRef "API-Keys" is not a Secret name',
      ],
    ],
    [
      "a Sandbox name with a dot",
      image,
      [
        'metadata: Invalid value: "object": Sandbox name "a.b" is not valid: use at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit (its pod and service are named after it)',
      ],
      "a.b",
    ],
    ["a Sandbox name of 64 characters", image, [`Sandbox name "${long}" is not valid`], long],
    [
      "a metadata key that is not a label key",
      { ...image, metadata: { "user id": "1" } },
      ['spec.metadata: Invalid value: "object": spec.metadata keys must be label keys'],
    ],
    [
      "a reserved metadata key",
      { ...image, metadata: { "soulbox.dev/team": "a" } },
      ["spec.metadata keys under soulbox.dev/, kubernetes.io/ and k8s.io/ are reserved"],
    ],
    [
      "a metadata value that is not a label value",
      { ...image, metadata: { note: "hello world" } },
      [
        'spec.metadata[note]: Invalid value: "string": spec.metadata value "hello world" is not a label value',
      ],
    ],
    [
      "the cloud metadata address in allowEgress",
      { ...image, network: { allowEgress: ["169.254.169.254"] } },
      [
        'spec.network.allowEgress[0]: Invalid value: "string": allowEgress entry "169.254.169.254" names a link-local or cloud metadata address, which a sandbox may never reach',
      ],
    ],
    [
      "a link-local range, the IPv6 metadata address and the GCE metadata host in allowEgress",
      {
        ...image,
        network: { allowEgress: ["169.254.0.0/16", "fd00:ec2::254", "metadata.google.internal"] },
      },
      [
        'allowEgress entry "169.254.0.0/16" names a link-local',
        'allowEgress entry "fd00:ec2::254" names a link-local',
        'allowEgress entry "metadata.google.internal" names a link-local',
      ],
    ],
    [
      "a denyEgress entry that is a hostname",
      { ...image, network: { denyEgress: ["example.com"] } },
      [
        'spec.network.denyEgress[0]: Invalid value: "string": denyEgress entry "example.com" is neither a CIDR (203.0.113.0/24) nor an IP address',
      ],
    ],
    [
      "an allowEgress entry that is neither CIDR, IP nor hostname",
      { ...image, network: { allowEgress: ["10.0.0.0/33", "not a host"] } },
      [
        'allowEgress entry "10.0.0.0/33" is neither a CIDR (203.0.113.0/24), an IP address nor a hostname (example.com, *.example.com)',
        'allowEgress entry "not a host" is neither',
      ],
    ],
  ];
  // Rows as objects: jest would take a fourth parameter that a row leaves out for `done`.
  const rows = refusals.map(([what, spec, fragments, name]) => ({ what, spec, fragments, name }));
  test.each(rows)("refuses $what", async ({ spec, fragments, name }) => {
    await expectRefused(sandboxes.create(spec, name), ...fragments);
  });

  test.each<[string, SandboxSpec, (s: SandboxSpec) => void, string]>([
    [
      "a new image",
      image,
      (s) => {
        s.template = { image: "registry.example/library/node:24" };
      },
      "spec.template: Forbidden: spec.template, spec.templateRef and spec.restoreFrom cannot change after creation",
    ],
    [
      "a templateRef instead of the template",
      image,
      (s) => {
        delete s.template;
        s.templateRef = "other";
      },
      "spec: Forbidden: spec.template, spec.templateRef and spec.restoreFrom cannot change after creation",
    ],
    [
      "another gpu count",
      { ...image, gpu: { count: 1 } },
      (s) => {
        s.gpu = { count: 2 };
      },
      "spec.gpu: Forbidden: spec.gpu cannot change after creation: GPUs are allocated when the sandbox is scheduled",
    ],
    [
      "a gpu added later",
      image,
      (s) => {
        s.gpu = { count: 1 };
      },
      "spec.gpu: Forbidden: spec.gpu cannot change after creation",
    ],
    [
      "another pauseMode while paused",
      { ...image, state: "Paused" },
      (s) => {
        s.pauseMode = "Filesystem";
      },
      "spec.pauseMode: Forbidden: spec.pauseMode cannot change while the sandbox is paused: resume it first (spec.state: Running)",
    ],
  ])("refuses an update with %s", async (_what, spec, change, message) => {
    const created = await sandboxes.create(spec);
    const next = structuredClone(created);
    change(next.spec);
    await expectRefused(sandboxes.replace(next), message);
  });

  test("accepts updates of the state, timeout, metadata and (while running) pauseMode", async () => {
    const created = await sandboxes.create({ ...image, timeoutSeconds: 60 });
    const steps: ((s: SandboxSpec) => void)[] = [
      (s) => {
        s.timeoutSeconds = 600;
      },
      (s) => {
        s.metadata = { user: "bob" };
      },
      (s) => {
        s.pauseMode = "Filesystem";
      },
      (s) => {
        s.state = "Paused";
      },
      (s) => {
        s.state = "Running";
        s.pauseMode = "Freeze"; // resuming and changing the mode in one step is fine
      },
    ];
    let current = created;
    for (const step of steps) {
      const next = structuredClone(current);
      step(next.spec);
      current = await sandboxes.replace(next);
    }
    expect(current.spec).toMatchObject({
      timeoutSeconds: 600,
      metadata: { user: "bob" },
      state: "Running",
      pauseMode: "Freeze",
    });
    expect(current.metadata.generation).toBe(6);
  });

  test("status is written only through the status subresource", async () => {
    // Status in a create or a plain update is dropped.
    const created = await sandboxes.create(image, "with-status", { phase: "Running" });
    expect(created.status).toBeUndefined();
    const plain = await sandboxes.replace({ ...created, status: { phase: "Running" } });
    expect(plain.status).toBeUndefined();

    const status = {
      phase: "Running",
      conditions: [ready],
      podName: "with-status",
      podIP: "10.244.0.7",
      nodeName: "node-1",
      envdEndpoint: "http://10.244.0.7:49983",
      startedAt: now,
      expiresAt: "2030-01-01T00:00:00Z",
      lastSnapshot: "snap-1",
      observedGeneration: 1,
    } satisfies Sandbox["status"];
    // The status endpoint ignores spec changes and does not bump the generation.
    const written = await sandboxes.replaceStatus({
      ...plain,
      spec: { ...plain.spec, state: "Paused" },
      status,
    });
    expect(written.status).toEqual(status);
    expect(written.spec.state).toBe("Running");
    expect(written.metadata.generation).toBe(created.metadata.generation);
    expect((await sandboxes.get("with-status")).status).toEqual(status);
  });

  test.each<[string, unknown, string]>([
    [
      "an unknown phase",
      { phase: "Sleeping" },
      'status.phase: Unsupported value: "Sleeping": supported values: "Pending", "Starting", "Running", "Pausing", "Paused", "Resuming", "Failed"',
    ],
    [
      "two conditions of one type",
      { conditions: [ready, { ...ready, status: "False" }] },
      'status.conditions[1]: Duplicate value: {"type":"Ready"}',
    ],
    [
      "a condition without a reason",
      { conditions: [{ type: "Ready", status: "True", message: "", lastTransitionTime: now }] },
      "status.conditions[0].reason: Required value",
    ],
    [
      "a condition status that is not True, False or Unknown",
      { conditions: [{ ...ready, status: "Yes" }] },
      'status.conditions[0].status: Unsupported value: "Yes"',
    ],
  ])("refuses a status with %s", async (_what, status, message) => {
    const created = await sandboxes.create(image);
    await expectRefused(
      custom.replaceNamespacedCustomObjectStatus({
        group: SandboxResource.group,
        version: SandboxResource.version,
        plural: SandboxResource.plural,
        namespace: ns.name,
        name: created.metadata.name ?? "",
        body: { ...created, status },
      }),
      message,
    );
  });

  test("kubectl get sbx prints phase, pod, IP, expiry and age; -o wide adds state and node", async () => {
    const created = await sandboxes.create(image, "printed");
    await sandboxes.replaceStatus({
      ...created,
      status: {
        phase: "Running",
        podName: "printed",
        podIP: "10.244.0.7",
        nodeName: "node-1",
        expiresAt: "2030-01-01T00:00:00Z",
      },
    });
    const lines = kubectl(["get", "sbx", "-n", ns.name]).trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+POD\s+IP\s+EXPIRES\s+AGE$/);
    expect(lines[1]).toMatch(
      /^printed\s+Running\s+printed\s+10\.244\.0\.7\s+2030-01-01T00:00:00Z\s+\d+s$/,
    );
    const wide = kubectl(["get", "sandboxes", "-n", ns.name, "-o", "wide"]).trim().split("\n");
    expect(wide[0]).toMatch(/^NAME\s+PHASE\s+POD\s+IP\s+EXPIRES\s+AGE\s+STATE\s+NODE$/);
    expect(wide[1]).toMatch(/\s+Running\s+node-1$/);
    // The short name also works for a single object and with -o name.
    expect(kubectl(["get", "sbx", "printed", "-n", ns.name, "-o", "name"]).trim()).toBe(
      "sandbox.soulbox.dev/printed",
    );
  });
});

describe("SandboxPool", () => {
  test("a minimal SandboxPool is accepted and defaulted: minReady 2, a 300 s window", async () => {
    const created = await pools.create({ templateRef: "soulbox-template-base" });
    expect(created.spec).toEqual({
      templateRef: "soulbox-template-base",
      minReady: 2,
      demandWindowSeconds: 300,
    });
  });

  // Every row names its pool: jest would take a fourth parameter that a row leaves out for `done`.
  test.each<[string, unknown, string, string]>([
    ["no templateRef", { minReady: 1 }, "spec.templateRef: Required value", "pool-a"],
    [
      "maxReady below minReady",
      { templateRef: "t", minReady: 3, maxReady: 2 },
      "maxReady must be at least minReady",
      "pool-b",
    ],
    [
      "a negative minReady",
      { templateRef: "t", minReady: -1 },
      "spec.minReady: Invalid value",
      "pool-c",
    ],
    [
      "a window under 10 s",
      { templateRef: "t", demandWindowSeconds: 5 },
      "spec.demandWindowSeconds: Invalid value",
      "pool-d",
    ],
    [
      "a templateRef with capitals",
      { templateRef: "Base" },
      'templateRef "Base" is not a ConfigMap name',
      "pool-e",
    ],
    [
      "a name over 40 characters",
      { templateRef: "t" },
      "at most 40 lowercase letters",
      "p".repeat(41),
    ],
  ])("refuses %s", async (_what, bad, message, name) => {
    await expectRefused(pools.create(bad, name), message);
  });
});

describe("Sandbox pool fields", () => {
  test.each<[string, SandboxSpec, string]>([
    [
      "poolRef without templateRef",
      { ...image, poolRef: "base" },
      "spec.poolRef needs spec.templateRef",
    ],
    [
      "poolRef with coldStart",
      { templateRef: "t", poolRef: "base", coldStart: true },
      "contradict each other",
    ],
    [
      "a poolRef with capitals",
      { templateRef: "t", poolRef: "Base" },
      'poolRef "Base" is not a SandboxPool name',
    ],
  ])("refuses %s", async (_what, bad, message) => {
    await expectRefused(sandboxes.create(bad), message);
  });

  test("poolRef cannot change", async () => {
    const sb = await sandboxes.create({ templateRef: "t", poolRef: "a" });
    await expectRefused(
      sandboxes.replace({ ...sb, spec: { ...sb.spec, poolRef: "b" } }),
      "spec.poolRef cannot change after creation",
    );
  });
});

describe("Snapshot", () => {
  const spec = { sandbox: "box-1" } satisfies SnapshotSpec;

  test("a Snapshot is accepted and defaulted to mode Filesystem", async () => {
    const created = await snapshots.create(spec);
    expect(created.spec).toEqual({ sandbox: "box-1", mode: "Filesystem" });
  });

  test.each<[string, unknown, string]>([
    ["no sandbox", { mode: "Memory" }, "spec.sandbox: Required value"],
    [
      "a sandbox name with capitals",
      { sandbox: "Box-1" },
      'spec.sandbox: Invalid value: "string": spec.sandbox "Box-1" is not a Sandbox name',
    ],
    [
      "an unknown mode",
      { ...spec, mode: "Disk" },
      'spec.mode: Unsupported value: "Disk": supported values: "Filesystem", "Memory"',
    ],
    [
      "a storageLocation that is not a URL",
      { ...spec, storageLocation: "my-bucket/prefix" },
      'spec.storageLocation "my-bucket/prefix" is not a URL like s3://bucket/prefix',
    ],
  ])("refuses %s", async (_what, bad, message) => {
    await expectRefused(snapshots.create(bad), message);
  });

  test("its spec cannot change", async () => {
    const created = await snapshots.create({ ...spec, storageLocation: "s3://bucket/a" });
    await expectRefused(
      snapshots.replace({
        ...created,
        spec: { ...created.spec, storageLocation: "s3://bucket/b" },
      }),
      "spec: Forbidden: a Snapshot's spec cannot change after creation: create a new Snapshot",
    );
  });

  test.each<[string, SnapshotStatus, string]>([
    [
      "Ready without location, size and sha256",
      { phase: "Ready" },
      'status: Invalid value: "object": a Ready Snapshot records its location, size and sha256',
    ],
    [
      "a sha256 that is not hex",
      { sha256: "XYZ" },
      "status.sha256 must be 64 lowercase hex digits",
    ],
    ["a size that is not a quantity", { size: "huge" }, 'status.size "huge" is not a quantity'],
  ])("refuses a status with %s", async (_what, status, message) => {
    const created = await snapshots.create(spec);
    await expectRefused(snapshots.replaceStatus({ ...created, status }), message);
  });

  test("a Ready status is stored and kubectl prints sandbox, mode, phase, size and age", async () => {
    const created = await snapshots.create(spec, "snap-1");
    const status: SnapshotStatus = {
      phase: "Ready",
      size: "1536Mi",
      sha256: "a".repeat(64),
      location: "s3://bucket/box-1/snap-1.tar.zst",
      conditions: [{ ...ready, reason: "Stored", message: "uploaded" }],
    };
    expect((await snapshots.replaceStatus({ ...created, status })).status).toEqual(status);
    const lines = kubectl(["get", "snapshots", "-n", ns.name]).trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+SANDBOX\s+MODE\s+PHASE\s+SIZE\s+AGE$/);
    expect(lines[1]).toMatch(/^snap-1\s+box-1\s+Filesystem\s+Ready\s+1536Mi\s+\d+s$/);
  });
});

describe("GpuAllocation", () => {
  const spec = {
    sandbox: "box-1",
    count: 2,
    product: "NVIDIA-H100-80GB-HBM3",
  } satisfies GpuAllocationSpec;

  test("a GpuAllocation is accepted and defaulted to numaPolicy Any", async () => {
    const created = await gpuAllocations.create(spec);
    expect(created.spec).toEqual({ ...spec, numaPolicy: "Any" });
  });

  test.each<[string, unknown, string]>([
    [
      "count 0",
      { ...spec, count: 0 },
      "spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1",
    ],
    ["no count", { sandbox: "box-1" }, "spec.count: Required value"],
    [
      "an unknown numaPolicy",
      { ...spec, numaPolicy: "SameNode" },
      'spec.numaPolicy: Unsupported value: "SameNode": supported values: "SingleNUMA", "Any"',
    ],
    [
      "a sandbox name with a dot",
      { ...spec, sandbox: "box.1" },
      'spec.sandbox "box.1" is not a Sandbox name',
    ],
    [
      "a product that is not a label value",
      { ...spec, product: "H100 80GB" },
      'spec.product "H100 80GB" is not a label value',
    ],
  ])("refuses %s", async (_what, bad, message) => {
    await expectRefused(gpuAllocations.create(bad), message);
  });

  test("its spec cannot change", async () => {
    const created = await gpuAllocations.create(spec);
    await expectRefused(
      gpuAllocations.replace({ ...created, spec: { ...created.spec, count: 4 } }),
      "spec: Forbidden: a GpuAllocation's spec cannot change after creation: delete it and create a new one",
    );
  });

  test.each<[string, unknown, string]>([
    [
      "Bound without node and devices",
      { phase: "Bound" },
      'status: Invalid value: "object": a Bound GpuAllocation names its node and device ids',
    ],
    [
      "fewer device ids than GPUs",
      { phase: "Bound", node: "gpu-node-1", deviceIds: ["GPU-0"] },
      'status.deviceIds: Invalid value: "object": status.deviceIds must list exactly spec.count devices',
    ],
    [
      "an unknown phase",
      { phase: "Reserved" },
      'status.phase: Unsupported value: "Reserved": supported values: "Pending", "Bound", "Released", "Failed"',
    ],
  ])("refuses a status with %s", async (_what, status, message) => {
    const created = await gpuAllocations.create(spec);
    await expectRefused(
      custom.replaceNamespacedCustomObjectStatus({
        group: GpuAllocationResource.group,
        version: GpuAllocationResource.version,
        plural: GpuAllocationResource.plural,
        namespace: ns.name,
        name: created.metadata.name ?? "",
        body: { ...created, status },
      }),
      message,
    );
  });

  test("a Bound status is stored and kubectl prints the columns", async () => {
    const created = await gpuAllocations.create(spec, "gpus-1");
    await gpuAllocations.replaceStatus({
      ...created,
      status: { phase: "Bound", node: "gpu-node-1", deviceIds: ["GPU-0", "GPU-1"] },
    });
    const lines = kubectl(["get", "gpua", "-n", ns.name, "-o", "wide"]).trim().split("\n");
    expect(lines[0]).toMatch(
      /^NAME\s+SANDBOX\s+COUNT\s+PRODUCT\s+NODE\s+PHASE\s+AGE\s+NUMA\s+DEVICES$/,
    );
    expect(lines[1]).toMatch(
      /^gpus-1\s+box-1\s+2\s+NVIDIA-H100-80GB-HBM3\s+gpu-node-1\s+Bound\s+\d+s\s+Any\s+\["GPU-0","GPU-1"\]$/,
    );
  });
});
