/**
 * Whether a live object still says what the operator wants it to say.
 *
 * "Up to date" is judged on the live object, never on a record of what the
 * operator last wrote: a hand edit (an egress rule opened with `kubectl edit`)
 * leaves such a record untouched, and an operator trusting it would leave the
 * hole open. The live object may carry more than the desired one (server
 * defaults, other managers' labels, status), so the test is "every field the
 * desired object sets has that value live", not equality.
 */

/**
 * Lists whose order means nothing and to which others legitimately add
 * entries (admission adds tolerations, other controllers add owner references
 * and finalizers): every desired entry must be present, extra entries are fine.
 * Every other list is atomic, as server-side apply treats the lists of the
 * operator's children (NetworkPolicy rules, peers, ports): the same entries in
 * the same order, so an added rule is drift.
 */
const SET_LISTS = new Set(["metadata.ownerReferences", "metadata.finalizers", "spec.tolerations"]);

/** Identity, not content; list items from the API server carry neither. */
const IGNORED_AT_ROOT = new Set(["apiVersion", "kind"]);

/**
 * The paths (`spec.egress`, `metadata.labels.team`) where `live` does not
 * have a value that `desired` sets; empty when nothing drifted. Both are in
 * wire form (see `toWire`). Objects: every key of `desired` is compared,
 * extra live keys are ignored. Lists: atomic (same length, each entry
 * compared in order) except the set-like ones above. Scalars: equal. Pure.
 */
export function driftedFrom(live: unknown, desired: unknown): string[] {
  const out: string[] = [];
  compare(live, desired, "", out);
  return out;
}

function compare(live: unknown, desired: unknown, path: string, out: string[]): void {
  if (desired === undefined) return;
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) out.push(path);
    else if (SET_LISTS.has(path.replace(/\[\d+\]/g, ""))) {
      if (!desired.every((d) => live.some((l) => driftedFrom(l, d).length === 0))) out.push(path);
    } else if (live.length !== desired.length) out.push(path);
    else desired.forEach((d, i) => compare(live[i], d, `${path}[${i}]`, out));
    return;
  }
  if (isRecord(desired)) {
    if (!isRecord(live)) {
      out.push(path);
      return;
    }
    for (const [key, value] of Object.entries(desired)) {
      if (path === "" && IGNORED_AT_ROOT.has(key)) continue;
      compare(live[key], value, path ? `${path}.${key}` : key, out);
    }
    return;
  }
  if (live !== desired) out.push(path);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
