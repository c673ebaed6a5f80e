import { EventEmitter } from "node:events";
import type { EndpointRecord } from "@hookline/contracts";
import type { Counter, Gauge, Logger } from "@hookline/kit";
import { LRUCache } from "lru-cache";
import type { SendResult, SendWebhook, WebhookRequest } from "../http/webhook-client";
import type { DeliveryMetrics } from "../metrics";
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
}

/** Everything kept per endpoint, evicted together. */
interface EndpointState {
  url: string;
  breaker: EndpointBreaker;
  limiter: TokenBucket | undefined;
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
      },
    });
    gauges.closed.inc();
    const created: EndpointState = {
      url: endpoint.url,
      breaker,
      limiter: limiterFor(endpoint.rateLimitPerSecond),
    };
    states.set(endpointId, created);
    return created;
  };

  return {
    async send(endpoint, build) {
      const { breaker, limiter } = stateFor(endpoint);
      const admission = breaker.admission();
      if (admission.outcome === "circuit_open") return admission;
      if (limiter) {
        const grant = limiter.take();
        if (grant.outcome === "denied") {
          return { outcome: "rate_limited", retryAfterMs: grant.retryAfterMs };
        }
      }
      return breaker.send(build());
    },
    stateOf: (endpointId) => states.peek(endpointId)?.breaker.state(),
    close() {
      clearInterval(rotationTimer);
      states.clear();
    },
  };
}
