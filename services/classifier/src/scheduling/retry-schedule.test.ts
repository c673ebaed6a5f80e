import type { EndpointRecord } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { createScheduleLookup } from "./retry-schedule";

const endpoint = (retrySchedule?: string[]): EndpointRecord => ({
  id: "ep_01JD0000000000000000000000",
  url: "https://example.com/hook",
  eventTypes: [],
  secrets: [{ value: "whsec_AAAA", createdAt: "2025-01-01T00:00:00.000Z" }],
  disabled: false,
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
  ...(retrySchedule ? { retrySchedule } : {}),
});

describe("createScheduleLookup", () => {
  const defaults = [5_000, 300_000];
  const scheduleFor = createScheduleLookup(defaults);

  it("uses the default for unknown endpoints and endpoints without their own", () => {
    expect(scheduleFor(undefined)).toBe(defaults);
    expect(scheduleFor(endpoint())).toBe(defaults);
  });

  it("replaces the default with the endpoint's retrySchedule", () => {
    const record = endpoint(["200ms", "1s", "1m"]);
    expect(scheduleFor(record)).toEqual([200, 1_000, 60_000]);
    // Parsed once per record.
    expect(scheduleFor(record)).toBe(scheduleFor(record));
  });
});
