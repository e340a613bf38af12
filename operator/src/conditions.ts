/**
 * Conditions are an API (metav1.Condition). Types and reasons are constants
 * here; `setCondition` updates a list in place by type and moves
 * `lastTransitionTime` only when the status changes.
 */

/** The shape of metav1.Condition. */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** Sandbox condition types. All are positive polarity: "True" is the good or asked-for state. */
export const ConditionType = {
  /** The sandbox pod runs and envd answers: the sandbox can be used. */
  Ready: "Ready",
  /** The pod was placed on a node. */
  Scheduled: "Scheduled",
  /** The sandbox is paused as `spec.state: Paused` asked. */
  Paused: "Paused",
  /** The timeout passed and `onTimeout` was carried out. */
  Expired: "Expired",
} as const;

/** A condition without its transition time: what a reconcile computes. */
export type ConditionInput = Omit<Condition, "lastTransitionTime">;

/**
 * Returns the list with `next` merged in: same type → replaced, keeping the
 * old `lastTransitionTime` unless the status changed; new type → appended.
 * Never duplicates a type. Pure (returns a new array).
 */
export function setCondition(
  conditions: readonly Condition[],
  next: ConditionInput,
  now: Date,
): Condition[] {
  const out: Condition[] = [];
  let merged = false;
  for (const c of conditions) {
    if (c.type !== next.type) {
      out.push(c);
      continue;
    }
    if (merged) continue; // drop duplicates that an earlier writer may have left
    merged = true;
    out.push({
      ...next,
      lastTransitionTime: c.status === next.status ? c.lastTransitionTime : now.toISOString(),
    });
  }
  if (!merged) out.push({ ...next, lastTransitionTime: now.toISOString() });
  return out;
}

/** Merges several conditions in order. Pure. */
export function setConditions(
  conditions: readonly Condition[],
  next: readonly ConditionInput[],
  now: Date,
): Condition[] {
  return next.reduce<Condition[]>((acc, c) => setCondition(acc, c, now), [...conditions]);
}

/** Finds a condition by type. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
