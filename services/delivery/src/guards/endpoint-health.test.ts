import { createLogger, createServiceMetrics } from "@hookline/kit";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeliveryMetrics } from "../metrics";
import { createAttemptRing } from "./attempt-ring";
import type { BreakerConfig } from "./endpoint-breaker";
import { createEndpointGuards, type EndpointGuards, type GuardedEndpoint } from "./endpoint-guards";
import { type FakeSend, fakeSend, results, webhookRequest } from "./send-fakes";

const config: BreakerConfig = {
  errorThresholdPercentage: 50,
  volumeThreshold: 4,
  resetTimeoutMs: 60_000,
  windowMs: 10_000,
};
const START = Date.parse("2026-11-30T12:00:00.000Z");
const target: GuardedEndpoint = {
  id: "ep_01JHEALTH0000000000000000",
  url: "http://receiver.test/health",
  rateLimitPerSecond: 50,
};

describe("attempt ring", () => {
  it("keeps the last attempts, newest first, reusing its slots", () => {
    const ring = createAttemptRing(3);
    expect(ring.recent()).toEqual([]);
    for (let i = 0; i < 5; i++) ring.record(START + i * 1_000, "http_error", 500 + i, i);
    ring.record(START + 5_000, "circuit_open", undefined, 0);
    expect(ring.recent()).toEqual([
      { at: "2026-11-30T12:00:05.000Z", result: "circuit_open", ms: 0 },
      { at: "2026-11-30T12:00:04.000Z", result: "http_error", status: 504, ms: 4 },
      { at: "2026-11-30T12:00:03.000Z", result: "http_error", status: 503, ms: 3 },
    ]);
  });
});

describe("endpoint guards: health and reset", () => {
  let fake: FakeSend;
  let guards: EndpointGuards;
  const send = () => guards.send(target, webhookRequest);

  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
      now: START,
    });
    fake = fakeSend();
    guards = createEndpointGuards({
      send: fake.send,
      breaker: config,
      cacheSize: 10,
      metrics: createDeliveryMetrics(createServiceMetrics("delivery")),
      logger: createLogger({ service: "delivery", level: "silent", pretty: false }),
      now: () => Date.now(),
    });
  });

  afterEach(() => {
    guards.close();
    vi.useRealTimers();
  });

  it("reads an endpoint it never saw as closed with no attempts, and resets nothing", () => {
    expect(guards.health("ep_unseen")).toEqual({
      known: false,
      breaker: {
        state: "closed",
        requests: 0,
        failures: 0,
        windowMs: 10_000,
        errorThresholdPercentage: 50,
        volumeThreshold: 4,
        openedAt: null,
        probeAt: null,
      },
      rateLimiter: null,
      lastAttempts: [],
    });
    expect(guards.reset("ep_unseen")).toEqual({ known: false, previousState: "closed" });
  });

  it("shows an open breaker with its window, probe time, limiter and attempts; reset closes it", async () => {
    fake.answer(...Array.from({ length: 4 }, () => results.status(503)));
    for (let i = 0; i < 4; i++) await send();
    vi.advanceTimersByTime(1_000);
    expect((await send()).outcome).toBe("circuit_open");

    const open = guards.health(target.id);
    expect(open.known).toBe(true);
    expect(open.breaker).toEqual({
      state: "open",
      requests: 4,
      failures: 4,
      windowMs: 10_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 4,
      openedAt: "2026-11-30T12:00:00.000Z",
      probeAt: "2026-11-30T12:01:00.000Z",
    });
    // Four tokens taken from a bucket of five, one refilled over the second since.
    expect(open.rateLimiter).toEqual({ ratePerSecond: 50, capacity: 5, tokens: 5 });
    expect(open.lastAttempts).toEqual([
      { at: "2026-11-30T12:00:01.000Z", result: "circuit_open", ms: 0 },
      ...Array.from({ length: 4 }, () => ({
        at: "2026-11-30T12:00:00.000Z",
        result: "http_error",
        status: 503,
        ms: 1,
      })),
    ]);

    expect(guards.reset(target.id)).toEqual({ known: true, previousState: "open" });
    expect(guards.stateOf(target.id)).toBe("closed");
    const calls = fake.calls();
    expect(await send()).toEqual({ outcome: "sent", sent: results.status(200) });
    expect(fake.calls()).toBe(calls + 1);
    expect(guards.health(target.id).breaker).toMatchObject({
      state: "closed",
      openedAt: null,
      probeAt: null,
    });
  });
});
