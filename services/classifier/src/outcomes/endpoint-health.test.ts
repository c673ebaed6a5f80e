import type { EndpointRecord } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { healthChangeFor } from "./endpoint-health";

const DAY = 86_400_000;
const now = Date.parse("2026-11-30T12:00:00.000Z");
const endpoint = (changes: Partial<EndpointRecord> = {}): EndpointRecord => ({
  id: "ep_01JD0000000000000000000000",
  url: "https://example.com/hook",
  eventTypes: [],
  secrets: [{ value: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", createdAt: "2026-01-01T00:00:00.000Z" }],
  disabled: false,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  ...changes,
});

describe("healthChangeFor", () => {
  it("marks the first failure after a success with its own time", () => {
    expect(healthChangeFor(endpoint(), now - 5, now, 5 * DAY)).toEqual({
      action: "mark",
      since: now - 5,
    });
  });

  it("disables once the run of failures is as old as ENDPOINT_DISABLE_AFTER", () => {
    const since = new Date(now - 5 * DAY).toISOString();
    expect(healthChangeFor(endpoint({ failingSince: since }), now, now, 5 * DAY)).toEqual({
      action: "disable",
      since,
    });
    const younger = new Date(now - 5 * DAY + 1).toISOString();
    expect(healthChangeFor(endpoint({ failingSince: younger }), now, now, 5 * DAY)).toEqual({
      action: "none",
    });
  });

  it("leaves disabled and unknown endpoints alone", () => {
    const since = new Date(now - 9 * DAY).toISOString();
    const off = endpoint({ disabled: true, failingSince: since });
    expect(healthChangeFor(off, now, now, 5 * DAY)).toEqual({ action: "none" });
    expect(healthChangeFor(undefined, now, now, 5 * DAY)).toEqual({ action: "none" });
  });
});
