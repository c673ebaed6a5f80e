import { ConfigError, parseEnv } from "@hookline/kit";
import { describe, expect, it } from "vitest";
import { classifierEnvShape, retryPolicyFromEnv } from "./config";

describe("classifier env", () => {
  it("has the documented defaults", () => {
    const env = parseEnv(classifierEnvShape, {});
    expect(env.PORT).toBe(8082);
    expect(env.RETRY_SCHEDULE).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(env.RETRY_TIERS.map((tier) => tier.name)).toEqual([
      "5s",
      "30s",
      "2m",
      "5m",
      "30m",
      "2h",
      "5h",
      "10h",
    ]);
    expect(env.RETRY_JITTER).toBe(0.2);
    expect(env.RETRY_OVERLOAD_MIN_DELAY).toBe(60_000);
    expect(env.DEFERRAL_MIN_DELAY).toBe(1_000);
    expect(env.DEFERRAL_MAX_DELAY).toBeUndefined();
    expect(retryPolicyFromEnv(env).deferralMaxDelayMs).toBe(600_000);
    // Nothing changes for existing users: RETRY_SCHEDULE's 8 attempts, 429 as 503.
    expect(retryPolicyFromEnv(env)).toMatchObject({
      backoff: {
        strategy: "schedule",
        schedule: env.RETRY_SCHEDULE,
        maxAttempts: 8,
        jitter: 0.2,
        maxDelayMs: 36_000_000,
      },
      rateLimitedMinDelayMs: 60_000,
      overloadMinDelayMs: 60_000,
      networkMinDelayMs: 0,
    });
    expect(env.RETRY_TIER_MAX_ACK_PENDING).toBe(50);
    expect(env.CLASSIFIER_CONCURRENCY).toBe(64);
  });

  it("reads overrides", () => {
    const env = parseEnv(classifierEnvShape, {
      RETRY_SCHEDULE: "200ms,1s",
      RETRY_TIERS: "3s,200ms,1s",
      RETRY_JITTER: "0",
    });
    expect(env.RETRY_SCHEDULE).toEqual([200, 1_000]);
    expect(env.RETRY_TIERS).toEqual([
      { name: "200ms", ms: 200 },
      { name: "1s", ms: 1_000 },
      { name: "3s", ms: 3_000 },
    ]);
    expect(env.RETRY_JITTER).toBe(0);
  });

  it("names every bad variable", () => {
    try {
      parseEnv(classifierEnvShape, { RETRY_TIERS: "1.5s", RETRY_SCHEDULE: "5", RETRY_JITTER: "2" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join("\n");
      expect(problems).toContain("RETRY_TIERS");
      expect(problems).toContain("RETRY_SCHEDULE");
      expect(problems).toContain("RETRY_JITTER");
    }
  });

  it("reads the default strategy and the per-result minimums", () => {
    const env = parseEnv(classifierEnvShape, {
      RETRY_STRATEGY: "exponential",
      RETRY_BASE_DELAY: "2s",
      RETRY_MAX_DELAY: "1m",
      RETRY_MAX_ATTEMPTS: "6",
      RETRY_OVERLOAD_MIN_DELAY: "30s",
      RETRY_RATE_LIMITED_MIN_DELAY: "2m",
      RETRY_NETWORK_MIN_DELAY: "5s",
    });
    expect(retryPolicyFromEnv(env)).toMatchObject({
      backoff: { strategy: "exponential", baseDelayMs: 2_000, maxDelayMs: 60_000, maxAttempts: 6 },
      rateLimitedMinDelayMs: 120_000,
      overloadMinDelayMs: 30_000,
      networkMinDelayMs: 5_000,
    });
    // Unset, 429 keeps following RETRY_OVERLOAD_MIN_DELAY, as before it had its own.
    const older = parseEnv(classifierEnvShape, { RETRY_OVERLOAD_MIN_DELAY: "200ms" });
    expect(retryPolicyFromEnv(older).rateLimitedMinDelayMs).toBe(200);
    const strategy = parseEnv(classifierEnvShape, { RETRY_STRATEGY: "fibonacci" });
    expect(retryPolicyFromEnv(strategy).backoff).toMatchObject({ maxAttempts: 8 });
  });

  it("refuses a default strategy that would wait longer than the longest tier", () => {
    const problemsOf = (vars: Record<string, string>) => {
      try {
        retryPolicyFromEnv(parseEnv(classifierEnvShape, vars));
        return "";
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems.join("\n");
      }
    };
    expect(problemsOf({ RETRY_TIERS: "1s,3s", RETRY_MAX_DELAY: "10s" })).toMatch(
      /RETRY_MAX_DELAY: 10000ms is longer than the longest of RETRY_TIERS/,
    );
    expect(
      problemsOf({ RETRY_STRATEGY: "linear", RETRY_BASE_DELAY: "10s", RETRY_MAX_DELAY: "5s" }),
    ).toMatch(/RETRY_BASE_DELAY: 10000ms is longer than the longest wait/);
    expect(problemsOf({ RETRY_STRATEGY: "schedule", RETRY_BASE_DELAY: "10h" })).toBe("");
    expect(() => parseEnv(classifierEnvShape, { RETRY_STRATEGY: "random" })).toThrow(
      /RETRY_STRATEGY/,
    );
    expect(() => parseEnv(classifierEnvShape, { RETRY_MAX_ATTEMPTS: "0" })).toThrow(
      /RETRY_MAX_ATTEMPTS/,
    );
  });

  it("refuses a deferral maximum above the longest tier, and defaults below it", () => {
    const short = parseEnv(classifierEnvShape, { RETRY_TIERS: "200ms,1s,3s" });
    expect(retryPolicyFromEnv(short).deferralMaxDelayMs).toBe(3_000);
    const tooLong = parseEnv(classifierEnvShape, {
      RETRY_TIERS: "200ms,1s,3s",
      DEFERRAL_MAX_DELAY: "10s",
    });
    expect(() => retryPolicyFromEnv(tooLong)).toThrow(ConfigError);
    expect(() => retryPolicyFromEnv(tooLong)).toThrow(/DEFERRAL_MAX_DELAY.*longest of RETRY_TIERS/);
  });
});
