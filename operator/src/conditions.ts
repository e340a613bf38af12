/**
 * Merging conditions the way metav1.Condition promises: `setCondition`
 * updates a list by type and moves `lastTransitionTime` only when the status
 * changes. The types and reasons themselves are an API and live in
 * `api/conditions.ts`.
 */

import type { Condition, ConditionInput } from "../../api/conditions.js";

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
