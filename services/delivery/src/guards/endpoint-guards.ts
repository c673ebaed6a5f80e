import { EventEmitter } from "node:events";
import type {
  AttemptResult,
  BreakerSnapshot,
  EndpointGuardHealth,
  EndpointRecord,
} from "@hookline/contracts";
import type { Counter, Gauge, Logger } from "@hookline/kit";
import { LRUCache } from "lru-cache";
import type { SendResult, SendWebhook, WebhookRequest } from "../http/webhook-client";
import type { DeliveryMetrics } from "../metrics";
import { type AttemptRing, createAttemptRing } from "./attempt-ring";
import {
  type BreakerConfig,
  type BreakerState,
  breakerStates,
  createEndpointBreaker,
  type EndpointBreaker,
  WINDOW_BUCKETS,
} from "./endpoint-breaker";
import { createTokenBucket, type TokenBucket } from "./token-bucket";

/** What happened to one task at the guards: sent, or put off without a request. */
export type GuardedSend =
  | { outcome: "sent"; sent: SendResult }
  | { outcome: "circuit_open" | "rate_limited"; retryAfterMs: number };

export type GuardedEndpoint = Pick<EndpointRecord, "id" | "url" | "rateLimitPerSecond">;

export interface EndpointGuards {
  /**
   * Sends one webhook unless the endpoint's breaker is open or its rate limit is used up.
   * `build` signs the request and is called only when it will be sent.
   */
  send(endpoint: GuardedEndpoint, build: () => WebhookRequest): Promise<GuardedSend>;
  /** The breaker state of an endpoint seen recently; undefined when none is kept. */
  stateOf(endpointId: string): BreakerState | undefined;
  /** Breaker, limiter and last attempts; an endpoint not kept reads closed, no attempts. */
  health(endpointId: string): EndpointGuardHealth;
  /** Closes the endpoint's breaker (operators); `known` false when none is kept. */
  reset(endpointId: string): { known: boolean; previousState: BreakerState };
  /** Shuts every breaker down and stops the shared timer. */
  close(): void;
}

export interface EndpointGuardsOptions {
  send: SendWebhook;
  breaker: BreakerConfig;
  /** DELIVERY_BREAKER_CACHE_SIZE: endpoints whose breaker and limiter are kept. */
  cacheSize: number;
  metrics: Pick<DeliveryMetrics, "circuitBreakers" | "circuitBreakerTransitions">;
  logger: Logger;
  /** Monotonic milliseconds; default performance.now. */
  now?: () => number;
  /** Told of every breaker transition (operational events). */
  onBreakerTransition?: (endpointId: string, to: BreakerState, from: BreakerState) => void;
}

/** Everything kept per endpoint, evicted together. */
interface EndpointState {
  url: string;
  breaker: EndpointBreaker;
  limiter: TokenBucket | undefined;
  /** Created on the first attempt. */
  attempts: AttemptRing | undefined;
}

const transitionMessages: Record<BreakerState, string> = {
  open: "circuit breaker opened: tasks are deferred",
  half_open: "circuit breaker half-open: one probe goes through",
  closed: "circuit breaker closed",
};

/**
 * Per-endpoint circuit breakers and rate limits, kept in an LRU of at most `cacheSize`
 * endpoints. The limiter is asked before the breaker fires, so a rate-limited task never takes
 * a half-open breaker's one probe; an open breaker answers first, so tasks during an outage
 * don't drain the limiter and are told the breaker's wait, not a token's.
 */
export function createEndpointGuards(options: EndpointGuardsOptions): EndpointGuards {
  const { logger, metrics } = options;
  const now = options.now ?? (() => performance.now());
  const gauges = Object.fromEntries(
    breakerStates.map((state) => [state, metrics.circuitBreakers.labels({ state })]),
  ) as Record<BreakerState, Gauge.Internal<"state">>;
  const transitions = Object.fromEntries(
    breakerStates.map((to) => [to, metrics.circuitBreakerTransitions.labels({ to })]),
  ) as Record<BreakerState, Counter.Internal>;
  for (const state of breakerStates) {
    gauges[state].set(0);
    transitions[state].inc(0);
  }

  // One timer rotates the window buckets of every breaker; opossum would start two per breaker.
  const rotation = new EventEmitter();
  rotation.setMaxListeners(0);
  const rotationTimer = setInterval(
    () => rotation.emit("rotate"),
    Math.max(1, Math.floor(options.breaker.windowMs / WINDOW_BUCKETS)),
  );
  rotationTimer.unref();

  const states = new LRUCache<string, EndpointState>({
    max: options.cacheSize,
    // Evicted, replaced or cleared: stop its timers and take it off the gauge.
    dispose: (entry) => {
      gauges[entry.breaker.state()].dec();
      entry.breaker.shutdown();
    },
  });

  const limiterFor = (rate: number | undefined) =>
    rate === undefined ? undefined : createTokenBucket(rate, now);

  const stateFor = (endpoint: GuardedEndpoint): EndpointState => {
    const kept = states.get(endpoint.id);
    // A new URL is likely a new server: its health starts over.
    if (kept && kept.url === endpoint.url) {
      if (kept.limiter?.ratePerSecond !== endpoint.rateLimitPerSecond) {
        kept.limiter = limiterFor(endpoint.rateLimitPerSecond);
      }
      return kept;
    }
    const endpointId = endpoint.id;
    const breaker = createEndpointBreaker({
      endpointId,
      send: options.send,
      config: options.breaker,
      rotation,
      now,
      onTransition: (to, from) => {
        gauges[from].dec();
        gauges[to].inc();
        transitions[to].inc();
        logger.info({ endpointId, from, to }, transitionMessages[to]);
        options.onBreakerTransition?.(endpointId, to, from);
      },
    });
    gauges.closed.inc();
    const created: EndpointState = {
      url: endpoint.url,
      breaker,
      limiter: limiterFor(endpoint.rateLimitPerSecond),
      attempts: undefined,
    };
    states.set(endpointId, created);
    return created;
  };

  return {
    async send(endpoint, build) {
      const kept = stateFor(endpoint);
      const { breaker, limiter } = kept;
      const admission = breaker.admission();
      if (admission.outcome === "circuit_open") {
        recordAttempt(kept, "circuit_open", undefined, 0);
        return admission;
      }
      if (limiter) {
        const grant = limiter.take();
        if (grant.outcome === "denied") {
          return { outcome: "rate_limited", retryAfterMs: grant.retryAfterMs };
        }
      }
      const guarded = await breaker.send(build());
      if (guarded.outcome === "sent") {
        const { sent } = guarded;
        recordAttempt(kept, sent.result, "status" in sent ? sent.status : undefined, sent.ms);
      } else recordAttempt(kept, "circuit_open", undefined, 0);
      return guarded;
    },
    health(endpointId) {
      const kept = states.peek(endpointId);
      if (kept === undefined) {
        return {
          known: false,
          breaker: closedSnapshot(options.breaker),
          rateLimiter: null,
          lastAttempts: [],
        };
      }
      const { limiter } = kept;
      return {
        known: true,
        breaker: kept.breaker.snapshot(),
        rateLimiter: limiter
          ? {
              ratePerSecond: limiter.ratePerSecond,
              capacity: limiter.capacity,
              tokens: limiter.available(),
            }
          : null,
        lastAttempts: kept.attempts?.recent() ?? [],
      };
    },
    reset(endpointId) {
      const kept = states.peek(endpointId);
      if (kept === undefined) return { known: false, previousState: "closed" };
      return { known: true, previousState: kept.breaker.reset() };
    },
    stateOf: (endpointId) => states.peek(endpointId)?.breaker.state(),
    close() {
      clearInterval(rotationTimer);
      states.clear();
    },
  };
}

/** Recorded where the result is known; the ring's slots are reused, nothing is logged. */
function recordAttempt(
  kept: EndpointState,
  result: AttemptResult,
  status: number | undefined,
  ms: number,
): void {
  kept.attempts ??= createAttemptRing();
  kept.attempts.record(Date.now(), result, status, ms);
}

/** What an instance that keeps nothing for an endpoint reports: a breaker never opened. */
function closedSnapshot(config: BreakerConfig): BreakerSnapshot {
  return {
    state: "closed",
    requests: 0,
    failures: 0,
    windowMs: config.windowMs,
    errorThresholdPercentage: config.errorThresholdPercentage,
    volumeThreshold: config.volumeThreshold,
    openedAt: null,
    probeAt: null,
  };
}
