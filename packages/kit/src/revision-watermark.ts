/**
 * The highest KV revision a watching view has applied, and waits for it to reach one: a writer
 * that awaits its own revision reads its write back from the view.
 */
export interface RevisionWatermark {
  /** A change at `revision` was applied: wakes the waits it satisfies. */
  applied(revision: number): void;
  /** True once `revision` is applied, false after `timeoutMs` without it. */
  waitFor(revision: number, timeoutMs?: number): Promise<boolean>;
}

export function createRevisionWatermark(): RevisionWatermark {
  let last = 0;
  const waiters = new Set<() => void>();
  return {
    applied(revision) {
      if (revision > last) last = revision;
      if (waiters.size > 0) for (const wake of waiters) wake();
    },
    waitFor(revision, timeoutMs = 5_000) {
      if (last >= revision) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          resolve(false);
        }, timeoutMs);
        const check = () => {
          if (last < revision) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(true);
        };
        waiters.add(check);
      });
    },
  };
}
