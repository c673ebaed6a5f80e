export interface Schedule<T> {
  /** Runs the task now (the schedule's own runs call this too). */
  runOnce(): Promise<T>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `run` on a timer: first after `firstRunDelayMs`, then `intervalMs` after each run ends.
 * `run` reports its own failures (it should not reject): a failed run waits for the next one.
 */
export function startSchedule<T>(options: {
  run: () => Promise<T>;
  intervalMs: number;
  firstRunDelayMs: number;
}): Schedule<T> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = options.run().finally(() => {
        running = undefined;
        schedule(options.intervalMs);
      });
    }, delayMs);
    timer.unref();
  };
  schedule(options.firstRunDelayMs);

  return {
    runOnce: options.run,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
