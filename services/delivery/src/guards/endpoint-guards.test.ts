import { Writable } from "node:stream";
import { createLogger, createServiceMetrics } from "@hookline/kit";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeliveryMetrics, type DeliveryMetrics } from "../metrics";
import type { BreakerConfig } from "./endpoint-breaker";
import { createEndpointGuards, type EndpointGuards, type GuardedEndpoint } from "./endpoint-guards";
import { type FakeSend, fakeSend, results, webhookRequest } from "./send-fakes";

const config: BreakerConfig = {
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  resetTimeoutMs: 1_000,
  windowMs: 10_000,
};

let counter = 0;
function endpoint(overrides: Partial<GuardedEndpoint> = {}): GuardedEndpoint {
  counter++;
  return {
    id: `ep_01JGUARDS${String(counter).padStart(16, "0")}`,
    url: `http://receiver.test/${counter}`,
    ...overrides,
  };
}

async function value(
  metric: DeliveryMetrics["circuitBreakers"] | DeliveryMetrics["circuitBreakerTransitions"],
  labels: Record<string, string>,
): Promise<number | undefined> {
  const { values } = await metric.get();
  return values.find((v) => {
    const seen: Record<string, string | number | undefined> = v.labels;
    return Object.entries(labels).every(([k, l]) => seen[k] === l);
  })?.value;
}

describe("endpoint guards", () => {
  let fake: FakeSend;
  let metrics: DeliveryMetrics;
  let guards: EndpointGuards;
  let logLines: Record<string, unknown>[];
  let built: number;

  const start = (overrides: Partial<BreakerConfig> & { cacheSize?: number } = {}) => {
    const { cacheSize = 100, ...breaker } = overrides;
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    const logger = createLogger({ service: "delivery", level: "info", pretty: false, destination });
    guards = createEndpointGuards({
      send: fake.send,
      breaker: { ...config, ...breaker },
      cacheSize,
      metrics,
      logger,
      now: () => Date.now(),
    });
  };
  const send = (target: GuardedEndpoint) =>
    guards.send(target, () => {
      built++;
      return webhookRequest();
    });
  const openBreakerOf = async (target: GuardedEndpoint) => {
    fake.answer(...Array.from({ length: config.volumeThreshold }, () => results.status(500)));
    for (let i = 0; i < config.volumeThreshold; i++) await send(target);
    expect(guards.stateOf(target.id)).toBe("open");
  };

  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
    });
    fake = fakeSend();
    metrics = createDeliveryMetrics(createServiceMetrics("delivery"));
    logLines = [];
    built = 0;
  });

  afterEach(() => {
    guards?.close();
    vi.useRealTimers();
  });

  describe("circuit breaker", () => {
    it("opens once the volume threshold is reached with 5xx, timeouts and network errors", async () => {
      start();
      const target = endpoint();
      fake.answer(
        results.status(500),
        results.timeout,
        results.networkError,
        results.status(502),
        results.status(503),
        results.timeout,
        results.networkError,
        results.status(504),
        results.status(500),
      );
      for (let i = 0; i < 9; i++) {
        expect((await send(target)).outcome).toBe("sent");
      }
      expect(guards.stateOf(target.id)).toBe("closed"); // 9 requests: below the volume
      fake.answer(results.status(500));
      await send(target);
      expect(guards.stateOf(target.id)).toBe("open");

      expect(await send(target)).toEqual({ outcome: "circuit_open", retryAfterMs: 1_000 });
      expect(fake.calls()).toBe(10);
      expect(built).toBe(10); // nothing was signed for the deferred task
    });

    it("never opens for 4xx or blocked destinations, which count as answers", async () => {
      start();
      const target = endpoint();
      for (let i = 0; i < 30; i++) {
        fake.answer(i % 3 === 0 ? results.blocked : results.status(400 + (i % 30)));
        await send(target);
      }
      expect(guards.stateOf(target.id)).toBe("closed");
      // 30 answers and 30 failures: exactly 50%, not above it.
      fake.answer(...Array.from({ length: 30 }, () => results.status(500)));
      for (let i = 0; i < 30; i++) await send(target);
      expect(guards.stateOf(target.id)).toBe("closed");
      fake.answer(results.status(500));
      await send(target);
      expect(guards.stateOf(target.id)).toBe("open");
    });

    it("tells deferred tasks the time left until half-open", async () => {
      start();
      const target = endpoint();
      await openBreakerOf(target);
      vi.advanceTimersByTime(250);
      expect(await send(target)).toEqual({ outcome: "circuit_open", retryAfterMs: 750 });
      vi.advanceTimersByTime(749);
      expect(await send(target)).toEqual({ outcome: "circuit_open", retryAfterMs: 1 });
      expect(fake.calls()).toBe(config.volumeThreshold);
    });

    it("closes after a successful probe and reopens after a failed one", async () => {
      start();
      const target = endpoint();
      await openBreakerOf(target);

      vi.advanceTimersByTime(config.resetTimeoutMs);
      expect(guards.stateOf(target.id)).toBe("half_open");
      fake.answer(results.status(503));
      expect((await send(target)).outcome).toBe("sent");
      expect(guards.stateOf(target.id)).toBe("open");
      expect(await send(target)).toEqual({ outcome: "circuit_open", retryAfterMs: 1_000 });

      vi.advanceTimersByTime(config.resetTimeoutMs);
      const settle = fake.hold();
      const probe = send(target);
      expect(await send(target)).toEqual({ outcome: "circuit_open", retryAfterMs: 0 });
      settle(results.status(200));
      expect(await probe).toEqual({ outcome: "sent", sent: results.status(200) });
      expect(guards.stateOf(target.id)).toBe("closed");
      expect((await send(target)).outcome).toBe("sent");

      const transitions = metrics.circuitBreakerTransitions;
      expect(await value(transitions, { to: "open" })).toBe(2);
      expect(await value(transitions, { to: "half_open" })).toBe(2);
      expect(await value(transitions, { to: "closed" })).toBe(1);
      const logged = logLines.filter((line) => line.endpointId === target.id);
      expect(logged.map((line) => line.to)).toEqual([
        "open",
        "half_open",
        "open",
        "half_open",
        "closed",
      ]);
      expect(logged.every((line) => line.level === 30)).toBe(true); // info
    });

    it("keeps one breaker per endpoint", async () => {
      start();
      const sick = endpoint();
      const healthy = endpoint();
      await openBreakerOf(sick);
      expect(await send(healthy)).toEqual({ outcome: "sent", sent: results.status(200) });
      expect(guards.stateOf(healthy.id)).toBe("closed");
    });

    it("starts over when the endpoint's URL changes", async () => {
      start();
      const target = endpoint();
      await openBreakerOf(target);
      const moved = { ...target, url: "http://elsewhere.test/hook" };
      expect((await send(moved)).outcome).toBe("sent");
      expect(guards.stateOf(target.id)).toBe("closed");
      expect(await value(metrics.circuitBreakers, { state: "open" })).toBe(0);
      expect(await value(metrics.circuitBreakers, { state: "closed" })).toBe(1);
    });
  });

  describe("breaker gauge and the LRU", () => {
    it("counts breakers by state", async () => {
      start();
      await openBreakerOf(endpoint());
      await send(endpoint());
      await send(endpoint());
      const gauge = metrics.circuitBreakers;
      expect(await value(gauge, { state: "open" })).toBe(1);
      expect(await value(gauge, { state: "closed" })).toBe(2);
      expect(await value(gauge, { state: "half_open" })).toBe(0);
      vi.advanceTimersByTime(config.resetTimeoutMs);
      expect(await value(gauge, { state: "open" })).toBe(0);
      expect(await value(gauge, { state: "half_open" })).toBe(1);
    });

    it("shuts an evicted breaker down: its timer stops and the gauge forgets it", async () => {
      start({ cacheSize: 2 });
      const first = endpoint();
      await openBreakerOf(first);
      const timersWithOpenBreaker = vi.getTimerCount(); // the shared rotation + one reset timer
      await send(endpoint());
      await send(endpoint()); // evicts `first`
      expect(guards.stateOf(first.id)).toBeUndefined();
      expect(vi.getTimerCount()).toBe(timersWithOpenBreaker - 1);
      expect(await value(metrics.circuitBreakers, { state: "open" })).toBe(0);
      expect(await value(metrics.circuitBreakers, { state: "closed" })).toBe(2);

      guards.close();
      expect(vi.getTimerCount()).toBe(0);
      expect(await value(metrics.circuitBreakers, { state: "closed" })).toBe(0);
    });
  });

  describe("rate limit", () => {
    it("defers tasks over the limit as rate_limited, with the wait for the next token", async () => {
      start();
      const target = endpoint({ rateLimitPerSecond: 40 }); // a burst of 4, a token per 25 ms
      for (let i = 0; i < 4; i++) expect((await send(target)).outcome).toBe("sent");
      expect(await send(target)).toEqual({ outcome: "rate_limited", retryAfterMs: 25 });
      expect(fake.calls()).toBe(4);
      expect(built).toBe(4);
      vi.advanceTimersByTime(25);
      expect((await send(target)).outcome).toBe("sent");
    });

    it("follows a changed rate", async () => {
      start();
      const target = endpoint({ rateLimitPerSecond: 1 });
      await send(target);
      expect((await send(target)).outcome).toBe("rate_limited");
      const raised = { ...target, rateLimitPerSecond: 30 }; // a burst of 3
      for (let i = 0; i < 3; i++) expect((await send(raised)).outcome).toBe("sent");
      expect((await send(raised)).outcome).toBe("rate_limited");
      const unlimited = { ...target, rateLimitPerSecond: undefined };
      for (let i = 0; i < 20; i++) expect((await send(unlimited)).outcome).toBe("sent");
    });

    it("answers circuit_open while open, without spending tokens", async () => {
      start();
      const target = endpoint({ rateLimitPerSecond: 100 }); // a burst of 10
      await openBreakerOf(target); // spends all 10 tokens
      vi.advanceTimersByTime(500); // 5 tokens back
      for (let i = 0; i < 20; i++) {
        expect(await send(target)).toEqual({ outcome: "circuit_open", retryAfterMs: 500 });
      }
      vi.advanceTimersByTime(500);
      expect(guards.stateOf(target.id)).toBe("half_open");
      expect(await send(target)).toEqual({ outcome: "sent", sent: results.status(200) });
      for (let i = 0; i < 9; i++) expect((await send(target)).outcome).toBe("sent");
      expect((await send(target)).outcome).toBe("rate_limited");
    });

    it("never gives a half-open breaker's probe to a rate-limited task", async () => {
      start({ resetTimeoutMs: 5 });
      const target = endpoint({ rateLimitPerSecond: 100 }); // a burst of 10, a token per 10 ms
      await openBreakerOf(target); // spends all 10 tokens
      vi.advanceTimersByTime(5);
      expect(guards.stateOf(target.id)).toBe("half_open");
      expect(await send(target)).toEqual({ outcome: "rate_limited", retryAfterMs: 5 });
      expect(guards.stateOf(target.id)).toBe("half_open");
      vi.advanceTimersByTime(5);
      expect(await send(target)).toEqual({ outcome: "sent", sent: results.status(200) });
      expect(guards.stateOf(target.id)).toBe("closed");
      expect(fake.calls()).toBe(config.volumeThreshold + 1);
    });
  });
});
