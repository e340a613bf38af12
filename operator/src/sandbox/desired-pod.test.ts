import { dumpYaml, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import type { Sandbox, SandboxSpec, SandboxTemplate } from "../../../api/gen/crd-types.js";
import { desiredPod, executorCommand, podLabels, podSpecHash, podSpecView } from "./desired-pod.js";
import type { SandboxPodSettings } from "./settings.js";

const settings: SandboxPodSettings = {
  envdImage: "localhost/soulbox/envd:latest",
  defaultRuntimeClassName: "kata",
};

const sandbox = (spec: Partial<SandboxSpec> = {}, labels?: Record<string, string>): Sandbox => ({
  apiVersion: "soulbox.dev/v1alpha1",
  kind: "Sandbox",
  metadata: { name: "sb1", namespace: "team-a", uid: "u-1", generation: 1, labels },
  spec: { template: { image: "python:3.12" }, ...spec },
});

const EXECUTOR = [
  "/soulbox/kit/ld.so",
  "--library-path",
  "/soulbox/kit/lib",
  "/soulbox/kit/node",
  "--max-semi-space-size=1",
  "/soulbox/kit/executor.mjs",
  "--socket",
  "/soulbox/run/executor.sock",
  "--inherit-env",
  "--",
];

const sandboxContainer = (pod: V1Pod): V1Container => {
  const c = pod.spec?.containers[0];
  if (!c) throw new Error("no sandbox container");
  return c;
};

describe("desiredPod", () => {
  test("is the contract's pod for a minimal template", () => {
    const pod = desiredPod(sandbox(), { image: "python:3.12" }, settings);
    const { annotations, ...metadata } = pod.metadata ?? {};
    expect(annotations).toEqual({
      "soulbox.dev/pod-spec-hash": expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect({ ...pod, metadata }).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "sb1",
        namespace: "team-a",
        labels: {
          "soulbox.dev/sandbox": "sb1",
          "soulbox.dev/component": "pod",
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
      spec: {
        runtimeClassName: "kata",
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 5,
        volumes: [{ name: "soulbox", emptyDir: {} }],
        initContainers: [
          {
            name: "envd",
            image: "localhost/soulbox/envd:latest",
            imagePullPolicy: "IfNotPresent",
            restartPolicy: "Always",
            args: ["--port", "49983", "--executor-socket", "/soulbox/run/executor.sock"],
            env: [
              {
                name: "ENVD_ACCESS_TOKEN",
                valueFrom: { secretKeyRef: { name: "sb1-envd", key: "token" } },
              },
            ],
            ports: [{ name: "envd", containerPort: 49983, protocol: "TCP" }],
            startupProbe: {
              httpGet: { path: "/health", port: 49983 },
              periodSeconds: 1,
              failureThreshold: 60,
            },
            readinessProbe: { httpGet: { path: "/ready", port: 49983 }, periodSeconds: 1 },
            securityContext: {
              runAsUser: 0,
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] },
              seccompProfile: { type: "RuntimeDefault" },
            },
            volumeMounts: [{ name: "soulbox", mountPath: "/soulbox" }],
          },
        ],
        containers: [
          {
            name: "sandbox",
            image: "python:3.12",
            imagePullPolicy: "IfNotPresent",
            command: EXECUTOR,
            securityContext: {
              runAsUser: 0,
              privileged: false,
              allowPrivilegeEscalation: true,
              capabilities: {
                drop: ["ALL"],
                add: [
                  "CHOWN",
                  "DAC_OVERRIDE",
                  "FOWNER",
                  "FSETID",
                  "KILL",
                  "SETGID",
                  "SETUID",
                  "NET_BIND_SERVICE",
                  "AUDIT_WRITE",
                  "SYS_CHROOT",
                ],
              },
              seccompProfile: { type: "RuntimeDefault" },
            },
            volumeMounts: [{ name: "soulbox", mountPath: "/soulbox" }],
          },
        ],
      },
    });
  });

  test.each<[string, Partial<SandboxSpec>, SandboxTemplate, (pod: V1Pod) => unknown, unknown]>([
    [
      "the template's runtime class wins over the default",
      {},
      { image: "x", runtimeClassName: "runc" },
      (p) => p.spec?.runtimeClassName,
      "runc",
    ],
    [
      "plain env goes to the sandbox container, a missing value as empty",
      {},
      { image: "x", env: [{ name: "A", value: "1" }, { name: "B" }] },
      (p) => sandboxContainer(p).env,
      [
        { name: "A", value: "1" },
        { name: "B", value: "" },
      ],
    ],
    [
      "envFrom Secrets become secretRefs of the sandbox container only",
      { envFrom: [{ secretRef: { name: "openai" } }, { secretRef: { name: "db" } }] },
      { image: "x" },
      (p) => [sandboxContainer(p).envFrom, p.spec?.initContainers?.[0]?.envFrom],
      [[{ secretRef: { name: "openai" } }, { secretRef: { name: "db" } }], undefined],
    ],
    [
      "volumeMounts mount their claims read-write in the sandbox container only",
      {
        volumeMounts: [
          { volume: "vol-a", path: "/data" },
          { volume: "vol-b", path: "/home/user/cache" },
        ],
      },
      { image: "x" },
      (p) => [
        sandboxContainer(p).volumeMounts?.filter((m) => m.name.startsWith("soulbox-claim-")),
        p.spec?.initContainers?.[0]?.volumeMounts?.some((m) => m.name.startsWith("soulbox-claim")),
        p.spec?.volumes?.filter((v) => v.persistentVolumeClaim),
      ],
      [
        [
          { name: "soulbox-claim-0", mountPath: "/data" },
          { name: "soulbox-claim-1", mountPath: "/home/user/cache" },
        ],
        false,
        [
          { name: "soulbox-claim-0", persistentVolumeClaim: { claimName: "vol-a" } },
          { name: "soulbox-claim-1", persistentVolumeClaim: { claimName: "vol-b" } },
        ],
      ],
    ],
    [
      "no volumeMounts: no claims",
      {},
      { image: "x" },
      (p) => p.spec?.volumes?.filter((v) => v.persistentVolumeClaim),
      [],
    ],
    [
      "resources are the template's, as strings",
      {},
      { image: "x", resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: 2 } } },
      (p) => sandboxContainer(p).resources,
      { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2" } },
    ],
    [
      "a GPU count is a limit, with the GPU toleration and no node selector",
      { gpu: { count: 2 } },
      { image: "x", resources: { limits: { memory: "8Gi" } } },
      (p) => [sandboxContainer(p).resources, p.spec?.nodeSelector, p.spec?.tolerations],
      [
        { limits: { memory: "8Gi", "nvidia.com/gpu": "2" } },
        undefined,
        [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      ],
    ],
    [
      "a GPU product is a node selector",
      { gpu: { count: 1, product: "NVIDIA-H100-80GB-HBM3" } },
      { image: "x" },
      (p) => [sandboxContainer(p).resources, p.spec?.nodeSelector],
      [
        { limits: { "nvidia.com/gpu": "1" } },
        { "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" },
      ],
    ],
    [
      "no GPU: no toleration, no selector, no resources",
      {},
      { image: "x" },
      (p) => [sandboxContainer(p).resources, p.spec?.nodeSelector, p.spec?.tolerations],
      [undefined, undefined, undefined],
    ],
    [
      "spec.metadata becomes pod labels; the sandbox labels win",
      { metadata: { "user-id": "42", "app.example.com/stage": "dev" } },
      { image: "x" },
      (p) => p.metadata?.labels,
      {
        "user-id": "42",
        "app.example.com/stage": "dev",
        "soulbox.dev/sandbox": "sb1",
        "soulbox.dev/component": "pod",
        "app.kubernetes.io/managed-by": "soulbox-operator",
      },
    ],
    [
      "workingDir is not forced",
      {},
      { image: "x" },
      (p) => "workingDir" in sandboxContainer(p),
      false,
    ],
  ])("%s", (_name, spec, template, pick, expected) => {
    expect(pick(desiredPod(sandbox(spec), template, settings))).toEqual(expected);
  });

  test("kitVolume image: the kit is the envd image mounted read-only, and envd copies nothing", () => {
    const pod = desiredPod(
      sandbox(),
      { image: "python:3.12" },
      { ...settings, kitVolume: "image" },
    );
    const copy = desiredPod(
      sandbox(),
      { image: "python:3.12" },
      { ...settings, kitVolume: "copy" },
    );
    expect(pod.spec?.volumes).toEqual([
      { name: "soulbox", emptyDir: {} },
      {
        name: "soulbox-kit",
        image: { reference: "localhost/soulbox/envd:latest", pullPolicy: "IfNotPresent" },
      },
    ]);
    expect(sandboxContainer(pod).volumeMounts).toEqual([
      { name: "soulbox", mountPath: "/soulbox" },
      {
        name: "soulbox-kit",
        mountPath: "/soulbox/kit",
        subPath: "opt/soulbox/kit",
        readOnly: true,
      },
    ]);
    // The executor starts from the same path either way.
    expect(sandboxContainer(pod).command).toEqual(sandboxContainer(copy).command);
    const envd = pod.spec?.initContainers?.[0];
    expect(envd?.env?.find((e) => e.name === "SOULBOX_KIT_VOLUME")?.value).toBe("image");
    expect(envd?.volumeMounts).toEqual([{ name: "soulbox", mountPath: "/soulbox" }]);
    expect(copy.spec?.volumes).toEqual([{ name: "soulbox", emptyDir: {} }]);
    expect(copy.spec?.initContainers?.[0]?.env?.map((e) => e.name)).toEqual(["ENVD_ACCESS_TOKEN"]);
    expect(desiredPod(sandbox(), { image: "python:3.12" }, settings)).toEqual(copy);
  });

  test("the Sandbox's team label is carried to the pod", () => {
    const pod = desiredPod(
      sandbox({}, { "soulbox.dev/team": "t-9", other: "no" }),
      { image: "x" },
      settings,
    );
    expect(pod.metadata?.labels?.["soulbox.dev/team"]).toBe("t-9");
    expect(pod.metadata?.labels?.other).toBeUndefined();
  });

  test("the access token reaches envd only by reference, and never the sandbox container", () => {
    const pod = desiredPod(sandbox(), { image: "x" }, settings);
    const json = JSON.stringify(pod);
    expect(json).toContain('"secretKeyRef":{"name":"sb1-envd","key":"token"}');
    expect(JSON.stringify(sandboxContainer(pod))).not.toContain("ENVD_ACCESS_TOKEN");
  });

  test("survives client-node's serializer, which drops fields it does not know", () => {
    const pod = desiredPod(
      sandbox({ gpu: { count: 1, product: "H100" }, envFrom: [{ secretRef: { name: "s" } }] }),
      {
        image: "x",
        command: ["sh"],
        env: [{ name: "A", value: "1" }],
        resources: { requests: { cpu: "1" }, limits: { cpu: "2" } },
      },
      settings,
    );
    expect(parseYaml(dumpYaml(pod))).toEqual(JSON.parse(JSON.stringify(pod)));
  });

  test("refuses a Sandbox without namespace", () => {
    const sb = sandbox();
    delete sb.metadata.namespace;
    expect(() => desiredPod(sb, { image: "x" }, settings)).toThrow(/no metadata.namespace/);
  });
});

describe("executorCommand", () => {
  test.each<[string, SandboxTemplate, string[]]>([
    ["no command: the executor just serves", { image: "x" }, []],
    ["a command", { image: "x", command: ["sleep", "infinity"] }, ["sleep", "infinity"]],
    [
      "command then args",
      { image: "x", command: ["python", "-m"], args: ["http.server", "8000"] },
      ["python", "-m", "http.server", "8000"],
    ],
    ["args alone are the start command", { image: "x", args: ["bash"] }, ["bash"]],
    ["empty lists", { image: "x", command: [], args: [] }, []],
  ])("%s", (_name, template, after) => {
    expect(executorCommand(template)).toEqual([...EXECUTOR, ...after]);
  });
});

describe("pod-spec-hash", () => {
  const hash = (spec: Partial<SandboxSpec>, template: SandboxTemplate, s = settings) =>
    desiredPod(sandbox(spec), template, s).metadata?.annotations?.["soulbox.dev/pod-spec-hash"];
  const base = hash({}, { image: "x" });

  test.each<[string, Partial<SandboxSpec>, SandboxTemplate, SandboxPodSettings]>([
    ["another image", {}, { image: "y" }, settings],
    ["a command", {}, { image: "x", command: ["sh"] }, settings],
    ["an env var", {}, { image: "x", env: [{ name: "A" }] }, settings],
    ["envFrom", { envFrom: [{ secretRef: { name: "s" } }] }, { image: "x" }, settings],
    ["a GPU", { gpu: { count: 1 } }, { image: "x" }, settings],
    [
      "a volume mount",
      { volumeMounts: [{ volume: "v", path: "/data" }] },
      { image: "x" },
      settings,
    ],
    ["another envd image", {}, { image: "x" }, { ...settings, envdImage: "envd:2" }],
    ["the kit from an image volume", {}, { image: "x" }, { ...settings, kitVolume: "image" }],
    [
      "another default runtime class",
      {},
      { image: "x" },
      { ...settings, defaultRuntimeClassName: "runc" },
    ],
  ])("changes with %s", (_name, spec, template, s) => {
    expect(hash(spec, template, s)).not.toBe(base);
  });

  test.each<[string, Partial<SandboxSpec>]>([
    ["labels (spec.metadata)", { metadata: { a: "b" } }],
    ["the state", { state: "Paused" }],
    ["the timeout", { timeoutSeconds: 60, onTimeout: "Pause" }],
    ["the network", { network: { allowEgress: ["1.1.1.1"] } }],
  ])("does not change with %s", (_name, spec) => {
    expect(hash(spec, { image: "x" })).toBe(base);
  });

  test("does not depend on key order", () => {
    expect(podSpecHash({ containers: [], restartPolicy: "Always" })).toBe(
      podSpecHash({ restartPolicy: "Always", containers: [] }),
    );
  });

  test("is the hash of the spec it annotates", () => {
    const pod = desiredPod(sandbox(), { image: "x" }, settings);
    expect(pod.spec && podSpecHash(pod.spec)).toBe(base);
  });
});

describe("podSpecView", () => {
  const desired = desiredPod(sandbox(), { image: "x" }, settings);
  const live = (change: (p: V1Pod) => void = () => undefined): V1Pod => {
    const p = JSON.parse(JSON.stringify(desired)) as V1Pod;
    change(p);
    return p;
  };
  test.each<[string, V1Pod, ReturnType<typeof podSpecView>]>([
    ["the pod made from the desired spec", live(), { state: "current" }],
    [
      "server defaults in the live spec",
      live((p) => {
        if (p.spec) p.spec.dnsPolicy = "ClusterFirst";
      }),
      { state: "current" },
    ],
    [
      "a pod made from another spec",
      live((p) => {
        if (p.metadata?.annotations) p.metadata.annotations["soulbox.dev/pod-spec-hash"] = "old";
      }),
      {
        state: "changed",
        what: `spec hash old, now ${podSpecHash(desired.spec ?? { containers: [] })}`,
      },
    ],
    [
      "an image edited in place",
      live((p) => {
        const c = p.spec?.initContainers?.[0];
        if (c) c.image = "envd:evil";
      }),
      {
        state: "changed",
        what: `container envd runs envd:evil, the spec says ${settings.envdImage}`,
      },
    ],
    [
      "a pod without the annotation",
      live((p) => {
        if (p.metadata) delete p.metadata.annotations;
      }),
      { state: "unknown", why: "the pod does not record the spec it was made from" },
    ],
  ])("%s", (_name, pod, view) => {
    expect(podSpecView(pod, desired)).toEqual(view);
  });
});

test("podLabels are the desired pod's labels", () => {
  const sb = sandbox({ metadata: { purpose: "ci" } }, { "soulbox.dev/team": "blue" });
  expect(podLabels(sb)).toEqual(desiredPod(sb, { image: "x" }, settings).metadata?.labels);
});
