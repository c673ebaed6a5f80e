import { EventEmitter } from "node:events";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type BreakerState,
  countsAgainstEndpoint,
  createEndpointBreaker,
  type EndpointBreaker,
} from "./endpoint-breaker";
import { fakeSend, results, webhookRequest } from "./send-fakes";

describe("what counts against an endpoint", () => {
  it("counts 5xx, timeouts and network errors", () => {
    for (const status of [500, 502, 503, 504, 599]) {
      expect(countsAgainstEndpoint(results.status(status))).toBe(true);
    }
    expect(countsAgainstEndpoint(results.timeout)).toBe(true);
    expect(countsAgainstEndpoint(results.networkError)).toBe(true);
  });

  it("never counts 2xx, 3xx, 4xx or a blocked destination", () => {
    for (const status of [200, 204, 301, 400, 401, 404, 408, 410, 429]) {
      expect(countsAgainstEndpoint(results.status(status))).toBe(false);
    }
    expect(countsAgainstEndpoint(results.blocked)).toBe(false);
  });
});

describe("one endpoint's breaker", () => {
  const resetTimeoutMs = 1_000;
  let breaker: EndpointBreaker;
  let fake: ReturnType<typeof fakeSend>;
  let transitions: BreakerState[];

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "Date"] });
    fake = fakeSend();
    transitions = [];
    breaker = createEndpointBreaker({
      endpointId: "ep_01JTESTBREAKER000000000000",
      send: fake.send,
      config: {
        errorThresholdPercentage: 50,
        volumeThreshold: 2,
        resetTimeoutMs,
        windowMs: 10_000,
      },
      rotation: new EventEmitter(),
      now: () => Date.now(),
      onTransition: (to) => transitions.push(to),
    });
  });

  afterEach(() => {
    breaker.shutdown();
    vi.useRealTimers();
  });

  const openIt = async () => {
    fake.answer(results.status(500), results.status(500));
    await breaker.send(webhookRequest());
    await breaker.send(webhookRequest());
    expect(breaker.state()).toBe("open");
  };

  it("returns each result unchanged, failures included", async () => {
    fake.answer(results.status(503), results.status(404));
    expect(await breaker.send(webhookRequest())).toEqual({
      outcome: "sent",
      sent: results.status(503),
    });
    expect(await breaker.send(webhookRequest())).toEqual({
      outcome: "sent",
      sent: results.status(404),
    });
  });

  it("answers circuit_open with the time until half-open, and makes no call", async () => {
    await openIt();
    const before = fake.calls();
    expect(breaker.admission()).toEqual({ outcome: "circuit_open", retryAfterMs: resetTimeoutMs });
    vi.advanceTimersByTime(400);
    expect(breaker.admission()).toEqual({ outcome: "circuit_open", retryAfterMs: 600 });
    // Fired anyway (opossum's own check): still circuit_open, still no call.
    expect(await breaker.send(webhookRequest())).toEqual({
      outcome: "circuit_open",
      retryAfterMs: 600,
    });
    expect(fake.calls()).toBe(before);
  });

  it("lets exactly one probe through when half-open; concurrent tasks are deferred", async () => {
    await openIt();
    vi.advanceTimersByTime(resetTimeoutMs);
    expect(breaker.state()).toBe("half_open");
    expect(breaker.admission()).toEqual({ outcome: "pass" });

    const settleProbe = fake.hold();
    const probe = breaker.send(webhookRequest());
    // opossum 9 rejects a second call while its probe is out ("Breaker is open").
    expect(breaker.admission()).toEqual({ outcome: "circuit_open", retryAfterMs: 0 });
    const second = await breaker.send(webhookRequest());
    expect(second).toEqual({ outcome: "circuit_open", retryAfterMs: 0 });
    expect(fake.calls()).toBe(3);

    settleProbe(results.status(200));
    expect(await probe).toEqual({ outcome: "sent", sent: results.status(200) });
    expect(breaker.state()).toBe("closed");
    expect(transitions).toEqual(["open", "half_open", "closed"]);
  });

  it("reopens for a full reset timeout when the probe fails", async () => {
    await openIt();
    vi.advanceTimersByTime(resetTimeoutMs);
    fake.answer(results.timeout);
    expect(await breaker.send(webhookRequest())).toEqual({
      outcome: "sent",
      sent: results.timeout,
    });
    expect(breaker.state()).toBe("open");
    expect(breaker.admission()).toEqual({ outcome: "circuit_open", retryAfterMs: resetTimeoutMs });
    expect(transitions).toEqual(["open", "half_open", "open"]);
  });

  it("closes when the probe gets a 4xx: the endpoint answers", async () => {
    await openIt();
    vi.advanceTimersByTime(resetTimeoutMs);
    fake.answer(results.status(422));
    await breaker.send(webhookRequest());
    expect(breaker.state()).toBe("closed");
  });

  it("stops its reset timer when shut down", async () => {
    await openIt();
    expect(vi.getTimerCount()).toBe(1);
    breaker.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });
});
