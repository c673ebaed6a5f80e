import type { RetryStrategyName } from "@hookline/contracts";

/** An endpoint's retry policy (or the deployment's), in milliseconds, every field decided. */
export interface RetryBackoff {
  strategy: RetryStrategyName;
  /** The first wait, which the strategy grows (not used by `schedule`). */
  baseDelayMs: number;
  /** No wait the strategy gives is longer (not used by `schedule`). */
  maxDelayMs: number;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** ±this fraction of each wait. */
  jitter: number;
  /** `schedule` only: the wait after attempt n is entry n-1; past its end, the last entry. */
  schedule: readonly number[];
}

/** fib(1) = fib(2) = 1, fib(3) = 2, … (attempts stop at 20, far below any overflow). */
export function fibonacci(n: number): number {
  let previous = 0;
  let current = 1;
  for (let i = 1; i < n; i++) [previous, current] = [current, previous + current];
  return current;
}

/** The strategy's wait before attempt n + 1, before jitter and floors; n ≥ 1. */
export function strategyDelayMs(backoff: RetryBackoff, attempt: number): number {
  const n = Math.max(1, attempt);
  const base = backoff.baseDelayMs;
  switch (backoff.strategy) {
    case "schedule":
      return backoff.schedule[Math.min(n, backoff.schedule.length) - 1] ?? 0;
    case "fixed":
      return Math.min(base, backoff.maxDelayMs);
    case "linear":
      return Math.min(base * n, backoff.maxDelayMs);
    case "exponential":
      return Math.min(base * 2 ** (n - 1), backoff.maxDelayMs);
    case "fibonacci":
      return Math.min(base * fibonacci(n), backoff.maxDelayMs);
  }
}

/**
 * The wait after attempt `attempt` (attempts made so far, this one included), or undefined when
 * that was the last attempt the policy allows.
 */
export function nextDelayMs(backoff: RetryBackoff, attempt: number): number | undefined {
  if (Math.max(1, attempt) >= backoff.maxAttempts) return undefined;
  return strategyDelayMs(backoff, attempt);
}

/** A plain schedule, as RETRY_SCHEDULE and retrySchedule were: one attempt per entry and one. */
export function scheduleBackoff(schedule: readonly number[], jitter: number): RetryBackoff {
  const longest = Math.max(0, ...schedule);
  return {
    strategy: "schedule",
    baseDelayMs: schedule[0] ?? 0,
    maxDelayMs: longest,
    maxAttempts: schedule.length + 1,
    jitter,
    schedule,
  };
}
