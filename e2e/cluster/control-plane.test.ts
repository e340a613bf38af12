/**
 * The local control plane is a real one: admission, CRD schema validation,
 * watches, optimistic concurrency, garbage collection, persistence across an
 * apiserver restart, and kubectl/helm against it. One file, run in order,
 * because the last tests restart the shared apiserver.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import {
  CLUSTER_CLI,
  clusterCommand,
  kubeConfig,
  testNamespace,
  restartSharedApiServer,
  waitFor,
  RESTART_TEST_TIMEOUT_MS,
  TEST_NAMESPACE_TIMEOUT_MS,
} from "./test-support/cluster.js";
import { AESGCM_PREFIX, readEtcdRaw } from "./test-support/etcd.js";

const BIN = fileURLToPath(new URL("./.bin/", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
let ns: { name: string; dispose(): Promise<void> };

beforeEach(async () => {
  ns = await testNamespace(kc);
}, TEST_NAMESPACE_TIMEOUT_MS);
afterEach(async () => {
  await ns.dispose();
});

const cm = (
  name: string,
  data: Record<string, string> = {},
  extra: Partial<k8s.V1ObjectMeta> = {},
): k8s.V1ConfigMap => ({
  metadata: { name, ...extra },
  data,
});

function tool(name: "kubectl" | "helm", args: string[]): string {
  return execFileSync(join(BIN, name), args, { encoding: "utf8", env: process.env });
}

/** The API server's refusal: status code and its Status message. */
async function apiError(p: Promise<unknown>): Promise<{ code: number; body: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof k8s.ApiException))
    throw new Error(`expected an ApiException, got ${String(err)}`);
  const raw = String(err.body);
  let message = raw;
  try {
    message = (JSON.parse(raw) as { message?: string }).message ?? raw;
  } catch {
    // not a Status object: keep the raw body
  }
  return { code: err.code, body: message };
}

describe("the local control plane", () => {
  test("create, list and watch a ConfigMap", async () => {
    const seen: string[] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      `/api/v1/namespaces/${ns.name}/configmaps`,
      {},
      (type: string, obj: k8s.V1ConfigMap) => seen.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({ namespace: ns.name, body: cm("one", { a: "1" }) });
      const list = await core.listNamespacedConfigMap({ namespace: ns.name });
      expect(list.items.map((c) => c.metadata?.name)).toContain("one");
      await waitFor("the watch event", async () => (seen.includes("ADDED one") ? true : undefined));
    } finally {
      req.abort();
    }
  });

  test("a stale resourceVersion update fails with 409 Conflict", async () => {
    const created = await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: cm("conflict", { v: "1" }),
    });
    await core.replaceNamespacedConfigMap({
      name: "conflict",
      namespace: ns.name,
      body: { ...created, data: { v: "2" } },
    });
    const err = await apiError(
      core.replaceNamespacedConfigMap({
        name: "conflict",
        namespace: ns.name,
        body: { ...created, data: { v: "3" } },
      }),
    );
    expect(err.code).toBe(409);
    expect(err.body).toMatch(/the object has been modified/);
    const now = await core.readNamespacedConfigMap({ name: "conflict", namespace: ns.name });
    expect(now.data).toEqual({ v: "2" });
  });

  test("Secrets are ciphertext in etcd (AES-GCM) and plaintext through the API", async () => {
    const value = `env-value-${Math.random().toString(36).slice(2)}`;
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: "sbx-env" }, stringData: { GREETING: value } },
    });
    const raw = await readEtcdRaw(`/registry/secrets/${ns.name}/sbx-env`);
    expect(raw?.subarray(0, AESGCM_PREFIX.length).toString()).toBe(AESGCM_PREFIX);
    expect(raw?.includes(value)).toBe(false);
    expect(raw?.includes(Buffer.from(value).toString("base64"))).toBe(false);
    // A ConfigMap is not in the EncryptionConfiguration: the same read sees its plaintext, so the
    // check above can fail.
    await core.createNamespacedConfigMap({ namespace: ns.name, body: cm("plain", { v: value }) });
    expect((await readEtcdRaw(`/registry/configmaps/${ns.name}/plain`))?.includes(value)).toBe(
      true,
    );
    const read = await core.readNamespacedSecret({ name: "sbx-env", namespace: ns.name });
    expect(Buffer.from(read.data?.GREETING ?? "", "base64").toString()).toBe(value);
  });

  test("owner-reference garbage collection deletes a child", async () => {
    const parent = await core.createNamespacedConfigMap({ namespace: ns.name, body: cm("parent") });
    const ownerReferences = [
      { apiVersion: "v1", kind: "ConfigMap", name: "parent", uid: parent.metadata?.uid ?? "" },
    ];
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: cm("child", {}, { ownerReferences }),
    });
    await core.deleteNamespacedConfigMap({
      name: "parent",
      namespace: ns.name,
      propagationPolicy: "Background",
    });
    await waitFor(
      "the garbage collector to delete the child",
      async () =>
        (await apiError(core.readNamespacedConfigMap({ name: "child", namespace: ns.name })))
          .code === 404
          ? true
          : undefined,
      60_000,
    );
  });

  test("kubectl apply -f <dir> installs a CRD whose schema the server enforces", async () => {
    tool("kubectl", ["apply", "-f", join(FIXTURES, "crds")]);
    tool("kubectl", [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/widgets.test.soulbox.dev",
    ]);
    const create = (spec: unknown) =>
      custom.createNamespacedCustomObject({
        group: "test.soulbox.dev",
        version: "v1",
        namespace: ns.name,
        plural: "widgets",
        body: {
          apiVersion: "test.soulbox.dev/v1",
          kind: "Widget",
          metadata: { name: `w${Math.random().toString(36).slice(2, 8)}` },
          spec,
        },
      });
    await create({ size: 3, color: "red" });
    const tooBig = await apiError(create({ size: 11 }));
    expect(tooBig.code).toBe(422);
    expect(tooBig.body).toMatch(
      /spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10/,
    );
    const badColor = await apiError(create({ size: 2, color: "green" }));
    expect(badColor.body).toMatch(/spec.color: Unsupported value: "green"/);
    const missing = await apiError(create({ color: "red" }));
    expect(missing.body).toMatch(/spec.size: Required value/);
  });

  test("helm template and helm install/uninstall work with a chart", () => {
    const chart = join(FIXTURES, "hello-chart");
    expect(tool("helm", ["lint", chart])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const rendered = tool("helm", ["template", "demo", chart, "--set", "greeting=hi"]);
    expect(rendered).toMatch(/name: demo-hello[\s\S]*greeting: "hi"/);
    tool("helm", [
      "install",
      "demo",
      chart,
      "--namespace",
      ns.name,
      "--set",
      "greeting=installed",
      "--wait",
    ]);
    const out = tool("kubectl", [
      "get",
      "configmap",
      "demo-hello",
      "-n",
      ns.name,
      "-o",
      "jsonpath={.data.greeting}",
    ]);
    expect(out).toBe("installed");
    tool("helm", ["uninstall", "demo", "--namespace", ns.name, "--wait"]);
    expect(tool("kubectl", ["get", "configmaps", "-n", ns.name, "-o", "name"])).not.toMatch(
      /demo-hello/,
    );
  });

  test("up twice does not start a second cluster", () => {
    const before = clusterCommand(["status"]).stdout;
    const again = clusterCommand(["up"]);
    expect(again.stderr).toMatch(/already up/);
    expect(again.stdout.trim().split("\n").pop()).toBe(
      `export KUBECONFIG=${process.env.KUBECONFIG}`,
    );
    expect(clusterCommand(["status"]).stdout).toBe(before);
  });
});

describe("bad input", () => {
  test("up without Go says so in one sentence", () => {
    const r = spawnSync(CLUSTER_CLI, ["up"], {
      env: { ...process.env, PATH: "/usr/bin:/bin", SOULBOX_CLUSTER_DIR: join(tmpdir(), "never") },
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      "cluster: Go is not installed: install Go 1.24 or newer and run again.",
    );
  });

  test("up without free disk says so in one sentence", () => {
    const dir = mkdtempSync(join(tmpdir(), "tiny-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir]);
    try {
      const r = spawnSync(CLUSTER_CLI, ["up"], {
        env: { ...process.env, SOULBOX_CLUSTER_DIR: join(dir, "state") },
        encoding: "utf8",
      });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toMatch(
        /^cluster: not enough free disk: .* has \d+ MiB free and the cluster needs 4096 MiB\.$/,
      );
    } finally {
      execFileSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("restart of an unknown component is refused", () => {
    expect(() => clusterCommand(["restart", "kube-nonsense"])).toThrow(
      /unknown component 'kube-nonsense'/,
    );
  });
});

describe("faults: the apiserver restarts", () => {
  test(
    "objects created before a restart are still there after it (etcd keeps its data)",
    async () => {
      await core.createNamespacedConfigMap({
        namespace: ns.name,
        body: cm("durable", { keep: "me" }),
      });
      await restartSharedApiServer();
      const back = await waitFor("the ConfigMap after the restart", async () =>
        core.readNamespacedConfigMap({ name: "durable", namespace: ns.name }),
      );
      expect(back.data).toEqual({ keep: "me" });
    },
    RESTART_TEST_TIMEOUT_MS,
  );

  test(
    "an informer with an open watch recovers across a restart and loses no object",
    async () => {
      const path = `/api/v1/namespaces/${ns.name}/configmaps`;
      const informer = k8s.makeInformer(kc, path, () =>
        core.listNamespacedConfigMap({ namespace: ns.name }),
      );
      let stopped = false;
      // client-node's informer stops on a watch error; restarting it relists (the documented pattern).
      informer.on("error", () => {
        if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
      });
      await informer.start();
      try {
        await core.createNamespacedConfigMap({ namespace: ns.name, body: cm("before") });
        await waitFor("the informer to see 'before'", async () =>
          informer.list().some((c) => c.metadata?.name === "before") ? true : undefined,
        );
        const pidOf = () =>
          readFileSync(join(process.env.SOULBOX_CLUSTER_DIR ?? "", "kube-apiserver.pid"), "utf8");
        const before = pidOf();
        await restartSharedApiServer();
        // Another process now serves: every open watch was cut (gracefully, so the informer may
        // see the stream end rather than an error).
        expect(pidOf()).not.toBe(before);
        await core.createNamespacedConfigMap({ namespace: ns.name, body: cm("after") });
        await waitFor(
          "the informer to see 'after' and keep 'before'",
          async () => {
            const names = informer.list().map((c) => c.metadata?.name);
            return names.includes("before") && names.includes("after") ? true : undefined;
          },
          60_000,
        );
      } finally {
        stopped = true;
        await informer.stop();
      }
    },
    RESTART_TEST_TIMEOUT_MS,
  );
});
