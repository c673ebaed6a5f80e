import type { EndpointRecord, EndpointRetryPolicy } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { createBackoffLookup } from "./retry-schedule";
import type { RetryBackoff } from "./retry-strategies";

const endpoint = (own: {
  retrySchedule?: string[];
  retryPolicy?: EndpointRetryPolicy;
}): EndpointRecord => ({
  id: "ep_01JD0000000000000000000000",
  url: "https://example.com/hook",
  eventTypes: [],
  secrets: [{ value: "whsec_AAAA", createdAt: "2025-01-01T00:00:00.000Z" }],
  disabled: false,
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
  ...own,
});

const defaults: RetryBackoff = {
  strategy: "schedule",
  baseDelayMs: 5_000,
  maxDelayMs: 36_000_000,
  maxAttempts: 3,
  jitter: 0.2,
  schedule: [5_000, 300_000],
};

describe("createBackoffLookup", () => {
  const backoffFor = createBackoffLookup(defaults);

  it("uses the default for unknown endpoints and endpoints without their own", () => {
    expect(backoffFor(undefined)).toBe(defaults);
    expect(backoffFor(endpoint({}))).toBe(defaults);
  });

  it("replaces the default with the endpoint's retrySchedule, one attempt per entry and one", () => {
    const record = endpoint({ retrySchedule: ["200ms", "1s", "1m"] });
    expect(backoffFor(record)).toEqual({
      ...defaults,
      strategy: "schedule",
      schedule: [200, 1_000, 60_000],
      maxAttempts: 4,
    });
    // Worked out once per record.
    expect(backoffFor(record)).toBe(backoffFor(record));
  });

  it("takes a retryPolicy's fields, the rest from the default", () => {
    const record = endpoint({
      retryPolicy: { strategy: "exponential", baseDelay: "2s", maxAttempts: 6 },
    });
    expect(backoffFor(record)).toEqual({
      strategy: "exponential",
      baseDelayMs: 2_000,
      maxDelayMs: 36_000_000,
      maxAttempts: 6,
      jitter: 0.2,
      schedule: defaults.schedule,
    });
    expect(backoffFor(record)).toBe(backoffFor(record));
    const full = endpoint({
      retryPolicy: {
        strategy: "linear",
        baseDelay: "1m",
        maxDelay: "5m",
        maxAttempts: 10,
        jitter: 0,
      },
    });
    expect(backoffFor(full)).toMatchObject({
      strategy: "linear",
      baseDelayMs: 60_000,
      maxDelayMs: 300_000,
      maxAttempts: 10,
      jitter: 0,
    });
  });

  it("a policy's schedule gives one attempt more than its entries unless maxAttempts says", () => {
    const schedule = endpoint({ retryPolicy: { strategy: "schedule", schedule: ["1s", "2s"] } });
    expect(backoffFor(schedule)).toMatchObject({ schedule: [1_000, 2_000], maxAttempts: 3 });
    const longer = endpoint({
      retryPolicy: { strategy: "schedule", schedule: ["1s"], maxAttempts: 5, jitter: 0.5 },
    });
    expect(backoffFor(longer)).toMatchObject({ schedule: [1_000], maxAttempts: 5, jitter: 0.5 });
  });

  it("prefers retryPolicy when a record holds both", () => {
    const record = endpoint({
      retrySchedule: ["1s"],
      retryPolicy: { strategy: "fixed", baseDelay: "3s" },
    });
    expect(backoffFor(record)).toMatchObject({ strategy: "fixed", baseDelayMs: 3_000 });
  });

  it("a base above the default cap with no cap of its own is its own cap", () => {
    const small = createBackoffLookup({ ...defaults, maxDelayMs: 3_000 });
    const record = endpoint({ retryPolicy: { strategy: "fixed", baseDelay: "10s" } });
    expect(small(record)).toMatchObject({ baseDelayMs: 10_000, maxDelayMs: 10_000 });
  });
});
