/**
 * A SoulBox release with the gateway, installed by the chart into the local cluster for one test
 * file, the way a platform team installs it: its own namespace (also the first team), a wildcard
 * certificate from the local CA, a DNS name on this machine for its Service, and an API key. What
 * the SDK needs comes from `e2e/cluster/env`, the stable interface users eval.
 * SOULBOX_GATEWAY_LOGS=1 prints the gateway's last log lines when the release is uninstalled.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { CHART, helm, helmOk } from "../../charts/soulbox/helm.js";
import { clusterCommand, testNamespace } from "../cluster/test-support/cluster.js";
import { holdDnsLock } from "../cluster/test-support/dns-lock.js";
import { retryLookupsUnder } from "../cluster/test-support/dns-retry.js";
import { freePort } from "../../envd/test-support/envd-process.js";

const KUBECTL = fileURLToPath(new URL("../cluster/.bin/kubectl", import.meta.url));
const ENV_CLI = fileURLToPath(new URL("../cluster/env", import.meta.url));
const GATEWAY = fileURLToPath(new URL("../../dist/gateway.mjs", import.meta.url));

/** An installed release and what the SDK needs to reach it. */
export interface GatewayRelease {
  release: string;
  /** The release namespace, also the first team. */
  namespace: string;
  /** A second team's namespace, served by the same gateway. */
  otherTeam: string;
  domain: string;
  /** What `e2e/cluster/env` printed, parsed: E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY, ... */
  env: Record<string, string>;
  /** Makes a key with `gateway keys create`; returns the plaintext key. */
  createKey(team: string, extra?: string[]): string;
  uninstall(): Promise<void>;
}

/** Parses `export NAME=value` lines. */
export function parseExports(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) out[m[1]] = (m[2] ?? "").replace(/^'(.*)'$/, "$1");
  }
  return out;
}

/** Options of {@link installGatewayRelease}. */
export interface ReleaseOptions {
  /**
   * Snapshots (pause with pauseMode Filesystem, named snapshots, forks): a file:// store on a
   * local-path PersistentVolumeClaim of the release namespace, and the release's own node agent
   * on a free port of this node (several releases run at once, each with its agent).
   */
  snapshots?: boolean;
  /**
   * With `snapshots`: the release's node agent also takes Memory snapshots (nodeAgent.memory with
   * this node's ctr, containerd socket and kubelet port, the kubelet reached with the agent's
   * ServiceAccount token) and the gateway takes E2B's memory-keeping pauses as CRIU checkpoints
   * (gateway.memoryPause Memory).
   */
  memory?: boolean;
}

/** The chart values (and the PVC) that give a release Snapshots on the local cluster. */
async function snapshotValues(core: k8s.CoreV1Api, namespace: string, release: string) {
  const state = process.env.SOULBOX_CLUSTER_DIR;
  if (!state)
    throw new Error("SOULBOX_CLUSTER_DIR is not set: the cluster tests need jest's global setup");
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name: "snapshots" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
    },
  });
  return [
    "storage.url=file:///var/lib/soulbox/snapshots",
    "storage.pvc.claimName=snapshots",
    `nodeAgent.port=${await freePort()}`,
    `nodeAgent.paths.containerdState=${join(state, "containerd", "state")}`,
    `nodeAgent.paths.containerdRoot=${join(state, "containerd", "root")}`,
    `nodeAgent.paths.kubeletRoot=${join(state, "node", "kubelet")}`,
    `nodeAgent.cache.hostPath=${join(state, `node-agent-cache-${release}`)}`,
  ];
}

/** The chart values that turn Memory snapshots on for a release on the local cluster. */
function memoryValues(): string[] {
  const state = process.env.SOULBOX_CLUSTER_DIR ?? "";
  return [
    "nodeAgent.memory.enabled=true",
    `nodeAgent.memory.ctr=${fileURLToPath(new URL("../cluster/.bin/ctr", import.meta.url))}`,
    `nodeAgent.memory.containerdSocket=${join(state, "containerd", "containerd.sock")}`,
    `nodeAgent.memory.kubeletPort=${readFileSync(join(state, "kubelet.port"), "utf8").trim()}`,
    "gateway.memoryPause=Memory",
  ];
}

/** What the release's pods and claims are doing, for an install that did not become ready. */
function releaseState(namespace: string): string {
  const kubectl = (...args: string[]) =>
    spawnSync(KUBECTL, ["-n", namespace, ...args], { encoding: "utf8" });
  const pods = kubectl("get", "pods,pvc,daemonsets", "-o", "wide");
  const events = kubectl("get", "events", "--sort-by=.lastTimestamp");
  return `${pods.stdout}${pods.stderr}\n${events.stdout.split("\n").slice(-30).join("\n")}`;
}

/** Installs the chart with the gateway for `teams` = [release namespace, a second namespace]. */
export async function installGatewayRelease(
  kc: k8s.KubeConfig,
  opts: ReleaseOptions = {},
): Promise<GatewayRelease> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const ns = await testNamespace(kc, "gw");
  const other = await testNamespace(kc, "gw2");
  const release = `g${Math.random().toString(36).slice(2, 8)}`;
  const domain = `${release}.soulbox.test`;
  const certDir = mkdtempSync(join(tmpdir(), "soulbox-gw-cert-"));
  let installed = false;
  let dns = false;
  let releaseDns: (() => Promise<void>) | undefined;
  const cleanup = async () => {
    if (process.env.SOULBOX_GATEWAY_LOGS)
      console.log(
        spawnSync(
          KUBECTL,
          ["-n", ns.name, "logs", "-l", "app.kubernetes.io/component=gateway", "--tail", "200"],
          {
            encoding: "utf8",
          },
        ).stdout,
      );
    if (dns) clusterCommand(["dns", "remove", domain]);
    await releaseDns?.();
    if (installed)
      helm(["uninstall", release, "--namespace", ns.name, "--wait", "--timeout", "90s"]);
    rmSync(certDir, { recursive: true, force: true });
    await other.dispose();
    await ns.dispose();
  };
  try {
    clusterCommand(["cert", domain, certDir]);
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: {
        metadata: { name: "gateway-tls" },
        type: "kubernetes.io/tls",
        stringData: {
          "tls.crt": readFileSync(join(certDir, "tls.crt"), "utf8"),
          "tls.key": readFileSync(join(certDir, "tls.key"), "utf8"),
        },
      },
    });
    const sets = [
      // Only this namespace: other test files run their own controllers on theirs. The second team
      // needs no operator of its own: its key is only used to prove it cannot reach this team's sandboxes.
      `watchNamespace=${ns.name}`,
      "replicaCount=1",
      "leaderElection.enabled=false",
      "dashboard.enabled=false",
      "gateway.replicaCount=1",
      `gateway.domain=${domain}`,
      "gateway.tls.secretName=gateway-tls",
      `gateway.teams={${ns.name},${other.name}}`,
      ...(opts.snapshots ? await snapshotValues(core, ns.name, release) : []),
      ...(opts.snapshots && opts.memory ? memoryValues() : []),
    ];
    installed = true;
    try {
      helmOk([
        "install",
        release,
        CHART,
        "--namespace",
        ns.name,
        ...sets.flatMap((s) => ["--set", s]),
        "--wait",
        "--timeout",
        "180s",
      ]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${releaseState(ns.name)}`, { cause: err });
    }
    const svc = (await core.listNamespacedService({ namespace: ns.name })).items.find(
      (s) => s.metadata?.labels?.["app.kubernetes.io/component"] === "gateway",
    );
    const ip = svc?.spec?.clusterIP;
    if (!ip) throw new Error("the gateway Service has no ClusterIP");
    releaseDns = await holdDnsLock("shared");
    clusterCommand(["dns", "add", domain, ip]);
    dns = true;
    const env = spawnSync(
      ENV_CLI,
      ["--namespace", ns.name, "--release", release, "--team", ns.name],
      {
        env: process.env,
        encoding: "utf8",
      },
    );
    if (env.status !== 0) throw new Error(`e2e/cluster/env failed: ${env.stderr}`);
    return {
      release,
      namespace: ns.name,
      otherTeam: other.name,
      domain,
      env: parseExports(env.stdout),
      createKey(team, extra = []) {
        const r = spawnSync(
          process.execPath,
          [GATEWAY, "keys", "create", "--team", team, "--namespace", ns.name, ...extra],
          { env: process.env, encoding: "utf8" },
        );
        if (r.status !== 0) throw new Error(`gateway keys create failed: ${r.stderr}`);
        const key = /e2b_[0-9a-f]{40}/.exec(r.stdout)?.[0];
        if (!key) throw new Error(`no key in: ${r.stdout}`);
        return key;
      },
      uninstall: cleanup,
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}

const SDK_VARS = ["E2B_API_URL", "E2B_SANDBOX_URL", "E2B_API_KEY", "E2B_DOMAIN"] as const;

/**
 * Points the official JS SDK of this process at `gw` exactly as `eval "$(e2e/cluster/env)"` would:
 * the variables env printed are set, the others of the SDK's unset, and the gateway CA trusted
 * (what NODE_EXTRA_CA_CERTS does for a user's program; a worker may have started before the global
 * setup set it). Returns a function that puts everything back.
 */
export function useSdkEnv(gw: GatewayRelease): () => void {
  const saved = Object.fromEntries(SDK_VARS.map((k) => [k, process.env[k]]));
  const defaultCas = tls.getCACertificates("default");
  for (const k of SDK_VARS) {
    const v = gw.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  tls.setDefaultCACertificates([
    ...defaultCas,
    readFileSync(gw.env.NODE_EXTRA_CA_CERTS ?? "", "utf8"),
  ]);
  const undoRetry = retryLookupsUnder(gw.domain);
  return () => {
    undoRetry();
    tls.setDefaultCACertificates(defaultCas);
    for (const k of SDK_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}

const VENV = fileURLToPath(new URL("./.venv", import.meta.url));
const PYTHON = `${VENV}/bin/python`;
const REQUIREMENTS = fileURLToPath(new URL("./python/requirements.txt", import.meta.url));

/** The pinned official Python SDK in e2e/gateway/.venv, made (or brought up to the pin) here. */
export function ensurePythonSdk(): string {
  const pinned = /^e2b==(\S+)$/m.exec(readFileSync(REQUIREMENTS, "utf8"))?.[1];
  const installed = existsSync(PYTHON)
    ? spawnSync(PYTHON, ["-c", "import importlib.metadata as m; print(m.version('e2b'))"], {
        encoding: "utf8",
      }).stdout.trim()
    : "";
  if (installed === pinned) return PYTHON;
  const steps = [
    ["python3", ["-m", "venv", VENV]],
    [`${VENV}/bin/pip`, ["install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS]],
  ] as const;
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, [...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  }
  return PYTHON;
}

/**
 * Runs `python/<script>` with the official Python SDK against `gw`, configured only by what
 * `e2e/cluster/env` printed (plus SSL_CERT_FILE for the local CA), and returns the JSON object
 * its last line prints. Throws with its stderr when it fails.
 */
export function runPythonCheck(
  gw: GatewayRelease,
  script: string,
  args: string[] = [],
  timeoutMs = 150_000,
): Record<string, unknown> {
  const python = ensurePythonSdk();
  const env: NodeJS.ProcessEnv = { ...process.env, SSL_CERT_FILE: gw.env.NODE_EXTRA_CA_CERTS };
  for (const k of SDK_VARS) {
    if (gw.env[k] === undefined) delete env[k];
    else env[k] = gw.env[k];
  }
  // sitecustomize.py there asks again for names under the domain while dnsmasq restarts.
  const retry = fileURLToPath(new URL("./python/dns-retry", import.meta.url));
  env.PYTHONPATH = [retry, env.PYTHONPATH].filter(Boolean).join(":");
  env.SOULBOX_RETRY_DOMAIN = gw.domain;
  const path = fileURLToPath(new URL(`./python/${script}`, import.meta.url));
  const r = spawnSync(python, [path, ...args], { env, encoding: "utf8", timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
}
