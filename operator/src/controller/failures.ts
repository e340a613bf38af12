/**
 * One reconcile's failed steps. A step that fails must not stop the others:
 * the NetworkPolicy is still applied when the token Secret cannot be, and the
 * status is still written, saying what failed. Only then does the reconcile
 * throw, for a retry with backoff.
 */

/**
 * A step that failed. `what` says what could not be done, for people
 * ("apply the NetworkPolicy a/sb1"). `child`: the failure leaves a child
 * short of its desired state, so the sandbox is not Ready; other failures
 * (a template read for a pod that runs anyway) are retried without that.
 */
export interface Failure {
  what: string;
  error: unknown;
  child: boolean;
}

/** Collects the failures of a reconcile's steps. */
export interface Failures {
  /**
   * Runs `step`; when it throws, records the error under `what` (a child's
   * failure unless `child` is false) and resolves to undefined.
   */
  attempt<T>(what: string, step: () => Promise<T>, child?: boolean): Promise<T | undefined>;
  /**
   * What failed so far, in the order the steps were started (steps that run side by side still
   * report in one order, so the conditions they become do not flap).
   */
  readonly list: readonly Failure[];
}

/** A new, empty collector. */
export function createFailures(): Failures {
  const list: Failure[] = [];
  const startedAs: number[] = [];
  let started = 0;
  return {
    async attempt(what, step, child = true) {
      const order = started++;
      try {
        return await step();
      } catch (error) {
        const at = startedAs.findIndex((o) => o > order);
        const index = at === -1 ? list.length : at;
        list.splice(index, 0, { what, error, child });
        startedAs.splice(index, 0, order);
        return undefined;
      }
    },
    list,
  };
}

/**
 * The error a reconcile ends with after collecting `errors`: none, the one
 * error itself (so that its HTTP status still decides how the retry is
 * logged: a 409 is only a stale cache), or an AggregateError naming all.
 */
export function collectedError(errors: readonly Failure[]): unknown {
  if (errors.length === 0) return undefined;
  if (errors.length === 1) return errors[0]?.error;
  return new AggregateError(
    errors.map((f) => f.error),
    `${errors.length} steps failed: ${errors.map((f) => f.what).join(", ")}`,
  );
}
