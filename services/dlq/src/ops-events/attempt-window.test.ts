import { describe, expect, it } from "vitest";
import { type CountedAttempt, createAttemptWindow } from "./attempt-window";

const START = Date.parse("2026-11-30T23:00:00.000Z");
const WINDOW = 300_000;
const BUCKET = 30_000;

const row = (
  endpoint: string,
  at: number,
  result = "http_error",
  tenant = "acme",
): CountedAttempt => ({
  endpoint_id: endpoint,
  tenant_id: tenant,
  result,
  attempted_at: new Date(at),
});
const rows = (endpoint: string, at: number, results: string[]) =>
  results.map((result) => row(endpoint, at, result));

function windowAt(clock: { now: number }, maxEndpoints?: number) {
  return createAttemptWindow({
    windowMs: WINDOW,
    systemTenantId: "hookline",
    maxEndpoints,
    now: () => clock.now,
  });
}

describe("the failure-rate window", () => {
  it("sums each endpoint's attempts and failures over the window, by attempted_at", () => {
    const clock = { now: START + 200_000 };
    const window = windowAt(clock);
    window.add([
      ...rows("ep_a", START + 10_000, ["delivered", "http_error", "timeout"]),
      ...rows("ep_a", START + 190_000, ["delivered"]),
      ...rows("ep_b", START + 100_000, ["delivered", "delivered"]),
    ]);
    window.add(rows("ep_a", START + 199_000, ["network_error"]));
    expect(window.read(clock.now, 1).endpoints).toEqual([
      { endpointId: "ep_a", tenantId: "acme", attempts: 5, failed: 3 },
      { endpointId: "ep_b", tenantId: "acme", attempts: 2, failed: 0 },
    ]);
    // Fewer than the minimum: not rated, still counted.
    expect(window.read(clock.now, 3).endpoints.map((e) => e.endpointId)).toEqual(["ep_a"]);
    expect(window.size).toBe(2);
  });

  it("lets buckets leave the window, and forgets endpoints with nothing left in it", () => {
    const clock = { now: START };
    const window = windowAt(clock);
    window.add(rows("ep_a", START, ["http_error", "http_error"]));
    clock.now = START + 2 * BUCKET;
    window.add(rows("ep_a", clock.now, ["delivered", "delivered"]));
    window.add(rows("ep_b", clock.now, ["delivered"]));
    // The window is at least WINDOW long: at START + WINDOW the first bucket is still in it.
    expect(window.read(START + WINDOW, 1).endpoints[0]).toMatchObject({
      attempts: 4,
      failed: 2,
    });
    expect(window.read(START + WINDOW + BUCKET, 1).endpoints[0]).toMatchObject({
      attempts: 2,
      failed: 0,
    });
    expect(window.size).toBe(2);
    expect(window.read(START + 2 * BUCKET + WINDOW + BUCKET, 1).endpoints).toEqual([]);
    expect(window.size).toBe(0);
  });

  it("reuses a slot for a later bucket, starting it over", () => {
    const clock = { now: START };
    const window = windowAt(clock);
    window.add(rows("ep_a", START, ["http_error", "http_error", "http_error"]));
    // Eleven buckets later the ring comes round to the same slot.
    clock.now = START + 11 * BUCKET;
    window.add(rows("ep_a", clock.now, ["delivered"]));
    expect(window.read(clock.now, 1).endpoints[0]).toMatchObject({ attempts: 1, failed: 0 });
  });

  it("leaves out rows older than the window and the system tenant's, and counts rows ahead now", () => {
    const clock = { now: START + WINDOW * 2 };
    const window = windowAt(clock);
    window.add([
      row("ep_late", START),
      row("ep_ops", clock.now, "http_error", "hookline"),
      // Delivery's clock ahead of this one: counted in the current bucket, so it expires.
      row("ep_ahead", clock.now + 10 * BUCKET),
    ]);
    expect(window.read(clock.now, 1).endpoints).toEqual([
      { endpointId: "ep_ahead", tenantId: "acme", attempts: 1, failed: 1 },
    ]);
    expect(window.read(clock.now + WINDOW + BUCKET, 1).endpoints).toEqual([]);
  });

  it("tracks at most maxEndpoints, and takes new ones once others go idle", () => {
    const clock = { now: START };
    const window = windowAt(clock, 2);
    window.add([row("ep_a", START), row("ep_b", START), row("ep_c", START), row("ep_c", START)]);
    window.add([row("ep_a", START)]);
    const full = window.read(START, 1);
    expect(full.endpoints.map((e) => [e.endpointId, e.attempts])).toEqual([
      ["ep_a", 2],
      ["ep_b", 1],
    ]);
    expect(full.uncounted).toBe(2);
    expect(window.read(START, 1).uncounted).toBe(0);
    clock.now = START + WINDOW + BUCKET;
    expect(window.read(clock.now, 1).endpoints).toEqual([]);
    window.add([row("ep_c", clock.now)]);
    expect(window.read(clock.now, 1).endpoints.map((e) => e.endpointId)).toEqual(["ep_c"]);
  });
});
