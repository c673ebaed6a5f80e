import { RETRY_STRATEGIES } from "@hookline/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fibonacci,
  nextDelayMs,
  type RetryBackoff,
  scheduleBackoff,
  strategyDelayMs,
} from "./retry-strategies";

const SECOND = 1_000;

const backoff = (changes: Partial<RetryBackoff>): RetryBackoff => ({
  strategy: "fixed",
  baseDelayMs: SECOND,
  maxDelayMs: 60 * SECOND,
  maxAttempts: 20,
  jitter: 0,
  schedule: [],
  ...changes,
});

const delays = (policy: RetryBackoff, attempts: number) =>
  Array.from({ length: attempts }, (_, i) => strategyDelayMs(policy, i + 1));

describe("fibonacci", () => {
  it("is 1, 1, 2, 3, 5, 8 …", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(fibonacci)).toEqual([1, 1, 2, 3, 5, 8, 13, 21]);
  });
});

describe("strategyDelayMs", () => {
  it("exponential doubles from the base: base·2^(n-1)", () => {
    expect(delays(backoff({ strategy: "exponential" }), 6)).toEqual(
      [1, 2, 4, 8, 16, 32].map((s) => s * SECOND),
    );
  });

  it("linear grows by the base: base·n", () => {
    expect(delays(backoff({ strategy: "linear", baseDelayMs: 5 * SECOND }), 4)).toEqual([
      5 * SECOND,
      10 * SECOND,
      15 * SECOND,
      20 * SECOND,
    ]);
  });

  it("fibonacci: base·fib(n)", () => {
    expect(delays(backoff({ strategy: "fibonacci", baseDelayMs: 2 * SECOND }), 6)).toEqual(
      [2, 2, 4, 6, 10, 16].map((s) => s * SECOND),
    );
  });

  it("fixed waits the base every time", () => {
    expect(delays(backoff({ strategy: "fixed", baseDelayMs: 3 * SECOND }), 4)).toEqual([
      3 * SECOND,
      3 * SECOND,
      3 * SECOND,
      3 * SECOND,
    ]);
  });

  it("caps every strategy but schedule at maxDelay", () => {
    expect(delays(backoff({ strategy: "exponential", maxDelayMs: 5 * SECOND }), 5)).toEqual(
      [1, 2, 4, 5, 5].map((s) => s * SECOND),
    );
    expect(delays(backoff({ strategy: "linear", maxDelayMs: 2_500 }), 4)).toEqual([
      1_000, 2_000, 2_500, 2_500,
    ]);
    expect(delays(backoff({ strategy: "fibonacci", maxDelayMs: 4 * SECOND }), 6)).toEqual(
      [1, 1, 2, 3, 4, 4].map((s) => s * SECOND),
    );
    expect(strategyDelayMs(backoff({ baseDelayMs: 9 * SECOND, maxDelayMs: SECOND }), 1)).toBe(
      SECOND,
    );
  });

  it("schedule waits entry n-1, and the last entry past its end", () => {
    const policy = scheduleBackoff([SECOND, 5 * SECOND, 9 * SECOND], 0);
    expect(delays(policy, 5)).toEqual([SECOND, 5 * SECOND, 9 * SECOND, 9 * SECOND, 9 * SECOND]);
  });

  it("reads attempt 0 (a replayed task's count) as the first", () => {
    expect(strategyDelayMs(backoff({ strategy: "exponential" }), 0)).toBe(SECOND);
  });

  it("never shrinks from one attempt to the next, and stays within base and max", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RETRY_STRATEGIES.filter((name) => name !== "schedule")),
        fc.integer({ min: SECOND, max: 3_600_000 }),
        fc.integer({ min: 0, max: 36_000_000 }),
        fc.integer({ min: 1, max: 19 }),
        (strategy, baseDelayMs, extra, attempt) => {
          const policy = backoff({ strategy, baseDelayMs, maxDelayMs: baseDelayMs + extra });
          const here = strategyDelayMs(policy, attempt);
          const next = strategyDelayMs(policy, attempt + 1);
          expect(next).toBeGreaterThanOrEqual(here);
          expect(here).toBeGreaterThanOrEqual(baseDelayMs);
          expect(here).toBeLessThanOrEqual(policy.maxDelayMs);
        },
      ),
    );
  });
});

describe("nextDelayMs", () => {
  it("gives maxAttempts attempts in all, then none", () => {
    const policy = backoff({ strategy: "linear", maxAttempts: 3 });
    expect([1, 2, 3, 4].map((attempt) => nextDelayMs(policy, attempt))).toEqual([
      SECOND,
      2 * SECOND,
      undefined,
      undefined,
    ]);
  });

  it("a schedule of k delays gives k + 1 attempts, as RETRY_SCHEDULE always did", () => {
    const policy = scheduleBackoff([200, 500], 0.2);
    expect([1, 2, 3].map((attempt) => nextDelayMs(policy, attempt))).toEqual([200, 500, undefined]);
  });

  it("one attempt in all is never retried", () => {
    expect(nextDelayMs(backoff({ maxAttempts: 1 }), 1)).toBeUndefined();
  });

  it("allows exactly maxAttempts - 1 retries for any strategy", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RETRY_STRATEGIES),
        fc.integer({ min: 1, max: 20 }),
        (strategy, maxAttempts) => {
          const policy = backoff({ strategy, maxAttempts, schedule: [SECOND] });
          const retries = Array.from({ length: 25 }, (_, i) => nextDelayMs(policy, i + 1));
          expect(retries.filter((delay) => delay !== undefined)).toHaveLength(maxAttempts - 1);
        },
      ),
    );
  });
});
