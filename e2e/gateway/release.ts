/**
 * A SoulBox release with the gateway, installed by the chart into the local cluster for one test
 * file, the way a platform team installs it: its own namespace (also the first team), a wildcard
 * certificate from the local CA, a DNS name on this machine for its Service, and an API key. What
 * the SDK needs comes from `e2e/cluster/env`, the stable interface users eval.
 * SOULBOX_GATEWAY_LOGS=1 prints the gateway's last log lines when the release is uninstalled.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { CHART, helm, helmOk } from "../../charts/soulbox/helm.js";
import { clusterCommand, testNamespace } from "../cluster/test-support/cluster.js";
import { holdDnsLock } from "../cluster/test-support/dns-lock.js";

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

/** Installs the chart with the gateway for `teams` = [release namespace, a second namespace]. */
export async function installGatewayRelease(kc: k8s.KubeConfig): Promise<GatewayRelease> {
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
    ];
    installed = true;
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
