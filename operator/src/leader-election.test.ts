import * as k8s from "@kubernetes/client-node";
import { kubeConfig, testNamespace, waitFor } from "../../e2e/cluster/test-support/cluster.js";
import { startLeaderElection, type LeaderElector } from "./leader-election.js";

const kc = kubeConfig();
let ns: { name: string; dispose(): Promise<void> };
const electors: LeaderElector[] = [];

beforeEach(async () => {
  ns = await testNamespace(kc, "lease");
});
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  await ns.dispose();
});

function candidate(
  identity: string,
  log: string[],
  timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200 },
) {
  const e = startLeaderElection({
    kubeConfig: kc,
    namespace: ns.name,
    name: "soulbox-operator",
    identity,
    ...timing,
    onStartedLeading: () => log.push(`${identity} leads`),
    onStoppedLeading: () => log.push(`${identity} stops`),
  });
  electors.push(e);
  return e;
}

describe("leader election on a real Lease", () => {
  test("two candidates: exactly one leads; on release the other takes over", async () => {
    const log: string[] = [];
    const a = candidate("a", log);
    const b = candidate("b", log);
    const first = await waitFor("a leader", async () =>
      a.isLeader ? a : b.isLeader ? b : undefined,
    );
    const second = first === a ? b : a;
    await new Promise((r) => setTimeout(r, 1000)); // several rounds: the other must not win one
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    await first.stop();
    await waitFor(
      "the other to take over after release",
      async () => (second.isLeader ? true : undefined),
      // A bound for a failure, not a timing claim: on a loaded 2-core machine (1 GiB storage
      // round trips in parallel files) a few API round trips took more than 3 s.
      15_000,
    );
    const lease = await kc
      .makeApiClient(k8s.CoordinationV1Api)
      .readNamespacedLease({ name: "soulbox-operator", namespace: ns.name });
    expect(lease.spec?.holderIdentity).toBe(first === a ? "b" : "a");
    expect(lease.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  test("a leader that cannot renew stops leading; a crashed leader is replaced after the lease duration", async () => {
    const log: string[] = [];
    const a = candidate("a", log);
    await waitFor("a to lead", async () => (a.isLeader ? true : undefined));
    // Someone else grabs the lease: a's renewals now lose (it is no longer the holder and the record is fresh).
    const api = kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await api.readNamespacedLease({ name: "soulbox-operator", namespace: ns.name });
    const micro = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
    await api.replaceNamespacedLease({
      name: "soulbox-operator",
      namespace: ns.name,
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "intruder",
          renewTime: micro,
          acquireTime: micro,
          leaseDurationSeconds: 3600,
        },
      },
    });
    await waitFor(
      "a to stop leading",
      async () => (log.includes("a stops") ? true : undefined),
      10_000,
    );
    expect(a.isLeader).toBe(false);
    await a.stop(); // leave the next round to a fresh candidate

    // The intruder never renews; with a 1 s lease a fresh candidate takes over once it is stale.
    await api.replaceNamespacedLease({
      name: "soulbox-operator",
      namespace: ns.name,
      body: {
        ...(await api.readNamespacedLease({ name: "soulbox-operator", namespace: ns.name })),
        spec: {
          holderIdentity: "intruder",
          leaseDurationSeconds: 1,
          renewTime: micro,
          acquireTime: micro,
        },
      },
    });
    const c = candidate("c", log, {
      leaseDurationMs: 1500,
      renewDeadlineMs: 1000,
      retryPeriodMs: 200,
    });
    await waitFor(
      "c to take over the stale lease",
      async () => (c.isLeader ? true : undefined),
      10_000,
    );
  });
});
