import { describe, expect, it } from "vitest";
import { endpointRecordSchema } from "./endpoint";
import {
  formatDuration,
  retryPolicyDelayProblem,
  retryPolicyInputSchema,
  retryPolicySchema,
} from "./retry-policy";

/** Each issue as "path: message", the way the API's 400 words it. */
function problems(value: unknown): string[] {
  const parsed = retryPolicyInputSchema.safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("retryPolicySchema", () => {
  it("takes every strategy with its fields", () => {
    for (const strategy of ["exponential", "linear", "fibonacci", "fixed"]) {
      expect(
        problems({ strategy, baseDelay: "5s", maxDelay: "1h", maxAttempts: 8, jitter: 0.2 }),
      ).toEqual([]);
    }
    expect(problems({ strategy: "schedule", schedule: ["5s", "1m"], maxAttempts: 3 })).toEqual([]);
    expect(problems({ strategy: "fixed" })).toEqual([]);
  });

  it("bounds maxAttempts to 1–20 and jitter to 0–1, naming the field", () => {
    expect(problems({ strategy: "fixed", maxAttempts: 0 })).toEqual([
      "maxAttempts: must be between 1 and 20",
    ]);
    expect(problems({ strategy: "fixed", maxAttempts: 21 })).toEqual([
      "maxAttempts: must be between 1 and 20",
    ]);
    expect(problems({ strategy: "fixed", maxAttempts: 2.5 })).toEqual([
      "maxAttempts: must be between 1 and 20",
    ]);
    expect(problems({ strategy: "fixed", jitter: 1.5 })).toEqual([
      "jitter: must be between 0 and 1",
    ]);
    expect(problems({ strategy: "fixed", jitter: -0.1 })).toEqual([
      "jitter: must be between 0 and 1",
    ]);
    expect(problems({ strategy: "fixed", maxAttempts: 1, jitter: 1 })).toEqual([]);
  });

  it("refuses delays shorter than 1s or unreadable", () => {
    const message = "a duration from 1s up to the longest retry tier, such as 5s, 5m or 2h";
    expect(problems({ strategy: "linear", baseDelay: "500ms" })).toEqual([`baseDelay: ${message}`]);
    expect(problems({ strategy: "linear", maxDelay: "soon" })).toEqual([`maxDelay: ${message}`]);
    expect(problems({ strategy: "schedule", schedule: ["1s", "999ms"] })).toEqual([
      `schedule.1: ${message}`,
    ]);
  });

  it("ties schedule to strategy schedule, and maxDelay to at least baseDelay", () => {
    expect(problems({ strategy: "schedule" })).toEqual([
      'schedule: required when strategy is "schedule"',
    ]);
    expect(problems({ strategy: "schedule", schedule: ["1s"], baseDelay: "1s" })).toEqual([
      'baseDelay: not used by strategy "schedule"; its delays are the schedule\'s',
    ]);
    expect(problems({ strategy: "fixed", schedule: ["1s"] })).toEqual([
      'schedule: only for strategy "schedule"',
    ]);
    expect(problems({ strategy: "exponential", baseDelay: "1m", maxDelay: "30s" })).toEqual([
      "maxDelay: must be at least baseDelay",
    ]);
  });

  it("refuses unknown strategies and, in the API, unknown fields", () => {
    expect(problems({ strategy: "random" })).toHaveLength(1);
    expect(problems({ strategy: "fixed", base: "5s" })).toHaveLength(1);
    // Stored records drop an unknown field rather than fail to load.
    expect(retryPolicySchema.parse({ strategy: "fixed", base: "5s" })).toEqual({
      strategy: "fixed",
    });
  });

  it("is a field of the endpoint record", () => {
    const record = {
      id: "ep_01JD0000000000000000000000",
      url: "https://example.com/hook",
      eventTypes: [],
      secrets: [{ value: "whsec_AAAA", createdAt: "2025-01-01T00:00:00.000Z" }],
      disabled: false,
      createdAt: "2025-01-01T00:00:00.000Z",
      updatedAt: "2025-01-01T00:00:00.000Z",
    };
    const retryPolicy = { strategy: "fibonacci", baseDelay: "2s", maxAttempts: 5 };
    expect(endpointRecordSchema.parse({ ...record, retryPolicy }).retryPolicy).toEqual(retryPolicy);
    expect(
      endpointRecordSchema.safeParse({ ...record, retryPolicy: { strategy: "fixed", jitter: 2 } })
        .success,
    ).toBe(false);
  });
});

describe("retryPolicyDelayProblem", () => {
  const tenHours = 36_000_000;
  it("names the first delay longer than the longest tier", () => {
    expect(
      retryPolicyDelayProblem({ strategy: "fixed", baseDelay: "10h", maxDelay: "10h" }, tenHours),
    ).toBeUndefined();
    expect(retryPolicyDelayProblem({ strategy: "fixed", baseDelay: "11h" }, tenHours)).toEqual({
      path: "retryPolicy.baseDelay",
      message: "must be between 1s and 10h (the longest of RETRY_TIERS)",
    });
    expect(retryPolicyDelayProblem({ strategy: "linear", maxDelay: "1d" }, tenHours)).toEqual({
      path: "retryPolicy.maxDelay",
      message: "must be between 1s and 10h (the longest of RETRY_TIERS)",
    });
    expect(
      retryPolicyDelayProblem({ strategy: "schedule", schedule: ["1s", "4s", "9s"] }, 3_000),
    ).toEqual({
      path: "retryPolicy.schedule.1",
      message: "must be between 1s and 3s (the longest of RETRY_TIERS)",
    });
  });
});

describe("formatDuration", () => {
  it("writes the largest whole unit", () => {
    expect(
      [36_000_000, 90_000, 120_000, 3_000, 1_500, 200, 86_400_000].map(formatDuration),
    ).toEqual(["10h", "90s", "2m", "3s", "1500ms", "200ms", "1d"]);
  });
});
