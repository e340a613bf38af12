/**
 * Checkpoint-image imports that run after a Memory capture answered: a pause is done once the
 * checkpoint archive is stored, and turning the archive into a checkpoint image (a minute for a
 * few GiB: containerd stores and unpacks the layer) goes on in the background. A restore asks
 * for the image through `restore-image`, which first waits for an import of the same image in
 * flight here; an import that failed, or one lost with an agent restart, is made again from the
 * store there.
 */

/** The imports in flight, by image reference. */
export interface ImageImports {
  /** Runs `job` for `ref` in the background; `onError` hears its failure (it is never thrown). */
  start(ref: string, job: () => Promise<void>, onError: (err: unknown) => void): void;
  /** Resolves once no import of `ref` runs here (at once when none does); never rejects. */
  settled(ref: string): Promise<void>;
  /** How many imports run now. */
  readonly running: number;
  /** Resolves once every import that runs now has ended. */
  idle(): Promise<void>;
}

/** A new, empty {@link ImageImports}. */
export function createImageImports(): ImageImports {
  const inFlight = new Map<string, Promise<void>>();
  return {
    start(ref, job, onError) {
      // A second capture of the same image (it names the Snapshot, so only a retry) runs after
      // the first: two ctr imports of one name at once would race for its final tag.
      const before = inFlight.get(ref) ?? Promise.resolve();
      const run: Promise<void> = before
        .then(job)
        .catch(onError)
        .finally(() => {
          if (inFlight.get(ref) === run) inFlight.delete(ref);
        });
      inFlight.set(ref, run);
    },
    settled: (ref) => inFlight.get(ref) ?? Promise.resolve(),
    get running() {
      return inFlight.size;
    },
    async idle() {
      await Promise.all([...inFlight.values()]);
    },
  };
}
