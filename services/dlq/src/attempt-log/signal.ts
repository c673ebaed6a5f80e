export interface Signal {
  /** Resolves on the next notify (or one that came while nobody waited), or after `timeoutMs`. */
  wait(timeoutMs?: number): Promise<void>;
  notify(): void;
}

/**
 * Wakes one waiting loop. A notify with nobody waiting is kept for the next wait, so a loop that
 * was busy when told to stop still sees it; waking too often is harmless (loops look again).
 */
export function createSignal(): Signal {
  let wake: (() => void) | undefined;
  let notified = false;
  return {
    wait(timeoutMs) {
      if (notified) {
        notified = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer =
          timeoutMs === undefined ? undefined : setTimeout(() => done(), Math.max(0, timeoutMs));
        const done = () => {
          clearTimeout(timer);
          if (wake === done) wake = undefined;
          resolve();
        };
        wake = done;
      });
    },
    notify() {
      if (wake === undefined) {
        notified = true;
        return;
      }
      wake();
    },
  };
}
