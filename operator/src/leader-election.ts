import * as k8s from "@kubernetes/client-node";

/**
 * Leader election on a coordination.k8s.io/v1 Lease with client-go's
 * semantics, which client-node lacks:
 * - a candidate takes the lease only when it is free or its holder has not
 *   renewed it for `leaseDurationMs`, judged by *our* clock from when we last
 *   saw the record change (so clock skew between replicas does not matter);
 * - the leader renews every `retryPeriodMs`; if no renewal succeeds for
 *   `renewDeadlineMs` it stops leading (before anyone else may take over,
 *   since renewDeadline < leaseDuration);
 * - every write is an optimistic-concurrency update (resourceVersion), so two
 *   candidates can never both win the same round;
 * - `stop()` releases the lease (empty holder) so a successor need not wait.
 */
export interface LeaderElectionOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

/** A running elector. */
export interface LeaderElector {
  readonly isLeader: boolean;
  /** Stops campaigning; a leader releases the lease. */
  stop(): Promise<void>;
}

// The apiserver wants MicroTime (6 fractional digits); client-node would send
// a Date with 3 and be refused, so times travel as preformatted strings.
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;

/** Starts campaigning for the lease. */
export function startLeaderElection(opts: LeaderElectionOptions): LeaderElector {
  const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  if (!(renewDeadlineMs < leaseDurationMs))
    throw new Error("renewDeadlineMs must be shorter than leaseDurationMs");
  const api = opts.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let observed: { key: string; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const recordKey = (l: k8s.V1Lease) =>
    `${l.spec?.holderIdentity ?? ""}|${String(l.spec?.renewTime ?? "")}|${l.metadata?.resourceVersion}`;

  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: k8s.V1Lease;
    try {
      lease = await api.readNamespacedLease({ name: opts.name, namespace: opts.namespace });
    } catch (err) {
      if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
      await api.createNamespacedLease({
        namespace: opts.namespace,
        body: {
          metadata: { name: opts.name, namespace: opts.namespace },
          spec: {
            holderIdentity: opts.identity,
            leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const key = recordKey(lease);
    if (observed?.key !== key) observed = { key, at: Date.now() };
    const holder = lease.spec?.holderIdentity ?? "";
    const mine = holder === opts.identity;
    const expired = holder === "" || observed.at + leaseDurationMs < Date.now();
    if (!mine && !expired) return false;
    const spec = lease.spec ?? {};
    await api.replaceNamespacedLease({
      name: opts.name,
      namespace: opts.namespace,
      body: {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: opts.identity,
          leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
          acquireTime:
            mine && spec.acquireTime ? microTime(new Date(spec.acquireTime)) : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      },
    });
    return true;
  }

  async function round() {
    if (stopped) return;
    let ok = false;
    try {
      ok = await tryAcquireOrRenew();
    } catch (err) {
      opts.onError?.(err); // a conflict or an unreachable apiserver: try again next round
    }
    if (stopped) return;
    if (ok) {
      lastRenew = Date.now();
      if (!leader) {
        leader = true;
        opts.onStartedLeading();
      }
    } else if (leader && Date.now() - lastRenew > renewDeadlineMs) {
      leader = false;
      opts.onStoppedLeading();
    }
    timer = setTimeout(() => void round(), retryPeriodMs);
  }

  void round();
  return {
    get isLeader() {
      return leader;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (!leader) return;
      leader = false;
      try {
        const lease = await api.readNamespacedLease({ name: opts.name, namespace: opts.namespace });
        if (lease.spec?.holderIdentity === opts.identity) {
          await api.replaceNamespacedLease({
            name: opts.name,
            namespace: opts.namespace,
            body: {
              ...lease,
              spec: {
                ...lease.spec,
                holderIdentity: "",
                leaseDurationSeconds: 1,
                acquireTime: lease.spec.acquireTime
                  ? microTime(new Date(lease.spec.acquireTime))
                  : undefined,
                renewTime: microTime(new Date()),
              },
            },
          });
        }
      } catch (err) {
        opts.onError?.(err);
      }
      opts.onStoppedLeading();
    },
  };
}
