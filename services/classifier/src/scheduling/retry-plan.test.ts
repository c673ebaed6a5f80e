import { describe, expect, it } from "vitest";
import {
  jittered,
  planAttemptRetry,
  planDeferral,
  type RetryFloor,
  type RetryPolicy,
} from "./retry-plan";
import { type RetryBackoff, scheduleBackoff } from "./retry-strategies";
import { parseRetryTiers } from "./retry-tiers";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DEFAULT_SCHEDULE = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
];
const tiers = parseRetryTiers("5s,30s,2m,5m,30m,2h,5h,10h");
if (!tiers.ok) throw new Error(tiers.error);

const policy: RetryPolicy = {
  backoff: scheduleBackoff(DEFAULT_SCHEDULE, 0.2),
  tiers: tiers.tiers,
  jitter: 0.2,
  rateLimitedMinDelayMs: 2 * MINUTE,
  overloadMinDelayMs: MINUTE,
  networkMinDelayMs: 10 * SECOND,
  deferralMinDelayMs: SECOND,
  deferralMaxDelayMs: 10 * MINUTE,
};
const now = Date.parse("2025-01-01T00:00:00Z");
const farDeadline = now + 30 * 86_400_000;
/** random() = 0.5 puts ±jitter at exactly zero. */
const middle = () => 0.5;
const lowest = () => 0;
const highest = () => 0.999_999_999;

function retryAfter(
  attempt: number,
  extra: { floor?: RetryFloor; retryAfterMs?: number; deadline?: number } = {},
  random = middle,
  backoff: RetryBackoff = policy.backoff,
) {
  return planAttemptRetry(
    {
      attempt,
      deadline: extra.deadline ?? farDeadline,
      floor: extra.floor ?? "none",
      retryAfterMs: extra.retryAfterMs,
    },
    backoff,
    policy,
    now,
    random,
  );
}

function delayOf(plan: ReturnType<typeof retryAfter>): number {
  if (plan.outcome !== "scheduled") throw new Error(`expected scheduled, got ${plan.outcome}`);
  return plan.delayMs;
}

describe("jittered", () => {
  it("stays within ±jitter and reaches both ends", () => {
    expect(jittered(10_000, 0.2, lowest)).toBe(8_000);
    expect(jittered(10_000, 0.2, highest)).toBe(12_000);
    expect(jittered(10_000, 0.2, middle)).toBe(10_000);
    let low = Number.POSITIVE_INFINITY;
    let high = 0;
    for (let i = 0; i < 10_000; i++) {
      const value = jittered(10_000, 0.2, Math.random);
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
    expect(low).toBeGreaterThanOrEqual(8_000);
    expect(high).toBeLessThanOrEqual(12_000);
    expect(low).toBeLessThan(8_200);
    expect(high).toBeGreaterThan(11_800);
  });

  it("is exact without jitter", () => {
    expect(jittered(10_000, 0, Math.random)).toBe(10_000);
  });
});

describe("planAttemptRetry", () => {
  it("waits schedule[attempt-1]", () => {
    DEFAULT_SCHEDULE.forEach((ms, index) => {
      const plan = retryAfter(index + 1);
      expect(plan).toMatchObject({ outcome: "scheduled", delayMs: ms, notBefore: now + ms });
    });
  });

  it("applies ±jitter to the scheduled delay", () => {
    expect(delayOf(retryAfter(2, {}, lowest))).toBe(4 * MINUTE);
    expect(delayOf(retryAfter(2, {}, highest))).toBe(6 * MINUTE);
    for (let i = 0; i < 1_000; i++) {
      const delay = delayOf(retryAfter(3, {}, Math.random));
      expect(delay).toBeGreaterThanOrEqual(24 * MINUTE);
      expect(delay).toBeLessThanOrEqual(36 * MINUTE);
    }
  });

  it("gives 8 attempts in all with the default schedule, then exhausted", () => {
    const scheduled = [1, 2, 3, 4, 5, 6, 7, 8, 9].filter(
      (attempt) => retryAfter(attempt).outcome === "scheduled",
    );
    expect(scheduled).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(retryAfter(8)).toEqual({ outcome: "exhausted" });
  });

  it("uses an endpoint's own schedule in place of the default", () => {
    const own = scheduleBackoff([200, 1_000], 0.2);
    expect(delayOf(retryAfter(1, {}, middle, own))).toBe(200);
    expect(delayOf(retryAfter(2, {}, middle, own))).toBe(1_000);
    expect(retryAfter(3, {}, middle, own)).toEqual({ outcome: "exhausted" });
  });

  it("honours Retry-After when it asks for longer than the schedule", () => {
    const delay = delayOf(retryAfter(1, { retryAfterMs: 2 * HOUR }, Math.random));
    expect(delay).toBeGreaterThanOrEqual(2 * HOUR);
    expect(delay).toBeLessThanOrEqual(2.4 * HOUR);
  });

  it("keeps the schedule when Retry-After asks for less", () => {
    expect(delayOf(retryAfter(2, { retryAfterMs: 10 * SECOND }))).toBe(5 * MINUTE);
  });

  it("caps Retry-After at the longest tier", () => {
    expect(delayOf(retryAfter(1, { retryAfterMs: 30 * 86_400_000 }, highest))).toBe(10 * HOUR);
  });

  it("makes overload answers wait at least the overload minimum", () => {
    const delay = delayOf(retryAfter(1, { floor: "overloaded" }, Math.random));
    expect(delay).toBeGreaterThanOrEqual(MINUTE);
    expect(delay).toBeLessThanOrEqual(1.2 * MINUTE);
    expect(delayOf(retryAfter(1, { floor: "none" }))).toBe(5 * SECOND);
    // The minimum is a floor, not a replacement: a longer scheduled delay stands.
    expect(delayOf(retryAfter(2, { floor: "overloaded" }))).toBe(5 * MINUTE);
  });

  it("gives each kind of failure its own minimum: 429, overload, network", () => {
    expect(delayOf(retryAfter(1, { floor: "rate_limited" }, lowest))).toBe(2 * MINUTE);
    expect(delayOf(retryAfter(1, { floor: "overloaded" }, lowest))).toBe(MINUTE);
    expect(delayOf(retryAfter(1, { floor: "network" }, lowest))).toBe(10 * SECOND);
    expect(delayOf(retryAfter(1, { floor: "none" }, lowest))).toBe(4 * SECOND);
    for (let i = 0; i < 200; i++) {
      const limited = delayOf(retryAfter(1, { floor: "rate_limited" }, Math.random));
      const network = delayOf(retryAfter(1, { floor: "network" }, Math.random));
      expect(limited).toBeGreaterThan(network);
    }
  });

  it("uses the backoff's jitter, not the deployment's", () => {
    const exact: RetryBackoff = { ...policy.backoff, jitter: 0 };
    expect(delayOf(retryAfter(2, {}, lowest, exact))).toBe(5 * MINUTE);
    expect(delayOf(retryAfter(1, { floor: "network" }, highest, exact))).toBe(10 * SECOND);
  });

  it("follows the backoff's strategy and its maxAttempts", () => {
    const exponential: RetryBackoff = {
      strategy: "exponential",
      baseDelayMs: SECOND,
      maxDelayMs: 5 * SECOND,
      maxAttempts: 5,
      jitter: 0,
      schedule: [],
    };
    const delays = [1, 2, 3, 4, 5].map((attempt) => retryAfter(attempt, {}, middle, exponential));
    expect(delays.slice(0, 4).map(delayOf)).toEqual([SECOND, 2 * SECOND, 4 * SECOND, 5 * SECOND]);
    expect(delays[4]).toEqual({ outcome: "exhausted" });
  });

  it("expires when the next try would pass the deadline", () => {
    expect(retryAfter(1, { deadline: now + 4 * SECOND })).toEqual({ outcome: "expired" });
    expect(retryAfter(1, { deadline: now + 5 * SECOND }).outcome).toBe("scheduled");
  });

  it("reports exhausted before expired", () => {
    expect(retryAfter(8, { deadline: now - 1 })).toEqual({ outcome: "exhausted" });
  });

  it("picks the shortest tier at least the delay", () => {
    const tierOf = (random: () => number, attempt = 1) => {
      const plan = retryAfter(attempt, {}, random);
      return plan.outcome === "scheduled" ? plan.tier.name : plan.outcome;
    };
    expect(tierOf(lowest)).toBe("5s"); // 4 s
    expect(tierOf(middle)).toBe("5s"); // 5 s
    expect(tierOf(highest)).toBe("30s"); // 6 s
    expect(tierOf(middle, 2)).toBe("5m");
    expect(tierOf(highest, 7)).toBe("10h"); // 12 h: beyond every tier, shortened to 10 h
    expect(delayOf(retryAfter(7, {}, highest))).toBe(10 * HOUR);
  });

  it("never waits longer than the longest tier, whatever the schedule or floor asks", () => {
    const shortTiers = parseRetryTiers("200ms,1s,3s");
    if (!shortTiers.ok) throw new Error(shortTiers.error);
    const short = { ...policy, tiers: shortTiers.tiers };
    const plan = planAttemptRetry(
      { attempt: 2, deadline: farDeadline, floor: "overloaded" },
      policy.backoff,
      short,
      now,
      middle,
    );
    expect(plan).toEqual({
      outcome: "scheduled",
      delayMs: 3 * SECOND,
      notBefore: now + 3 * SECOND,
      tier: { name: "3s", ms: 3 * SECOND },
    });
  });
});

describe("planDeferral", () => {
  const defer = (
    deferrals: number,
    retryAfterMs?: number,
    random = middle,
    deadline = farDeadline,
  ) => planDeferral({ deferrals, deadline, retryAfterMs }, policy, now, random);

  it("backs off min(reset × 2^deferrals, max)", () => {
    expect(delayOf(defer(0, 30 * SECOND))).toBe(30 * SECOND);
    expect(delayOf(defer(1, 30 * SECOND))).toBe(60 * SECOND);
    expect(delayOf(defer(3, 30 * SECOND))).toBe(240 * SECOND);
    expect(delayOf(defer(5, 30 * SECOND))).toBe(10 * MINUTE);
    expect(delayOf(defer(1_000, 30 * SECOND))).toBe(10 * MINUTE);
  });

  it("never comes back before the reset, and never after the maximum", () => {
    for (let i = 0; i < 1_000; i++) {
      const first = delayOf(defer(0, 30 * SECOND, Math.random));
      expect(first).toBeGreaterThanOrEqual(30 * SECOND);
      expect(first).toBeLessThanOrEqual(36 * SECOND);
      const late = delayOf(defer(9, 30 * SECOND, Math.random));
      expect(late).toBeGreaterThanOrEqual(8 * MINUTE);
      expect(late).toBeLessThanOrEqual(10 * MINUTE);
    }
  });

  it("uses the floor when the reset is unknown or zero", () => {
    expect(delayOf(defer(0))).toBe(SECOND);
    expect(delayOf(defer(0, 0))).toBe(SECOND);
    expect(delayOf(defer(2, 10))).toBe(4 * SECOND);
  });

  it("uses no attempts, so only the deadline ends it", () => {
    expect(defer(50, SECOND).outcome).toBe("scheduled");
    expect(defer(0, 30 * SECOND, middle, now + 10 * SECOND)).toEqual({ outcome: "expired" });
  });

  it("puts a short deferral in the shortest tier", () => {
    const plan = defer(0, 200);
    expect(plan.outcome === "scheduled" && plan.tier.name).toBe("5s");
  });
});
