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
