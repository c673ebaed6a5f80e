import type { EventEmitter } from "node:events";
import type { BreakerSnapshot } from "@hookline/contracts";
import CircuitBreaker from "opossum";
import type { SendResult, SendWebhook, WebhookRequest } from "../http/webhook-client";

export const breakerStates = ["closed", "open", "half_open"] as const;
export type BreakerState = (typeof breakerStates)[number];

export interface BreakerConfig {
  /** Opens when more than this percentage of the requests in the window failed. */
  errorThresholdPercentage: number;
  /** Requests the window must hold before it may open at all. */
  volumeThreshold: number;
  /** How long it stays open before letting one probe through (half-open). */
  resetTimeoutMs: number;
  /** The rolling window the failure rate is taken over. */
  windowMs: number;
}

/** opossum's window is this many buckets, rotated by one shared timer (see endpoint-guards). */
export const WINDOW_BUCKETS = 10;

/** Whether a request may go now. */
export type BreakerAdmission =
  | { outcome: "pass" }
  | { outcome: "circuit_open"; retryAfterMs: number };

export type BreakerSend =
  | { outcome: "sent"; sent: SendResult }
  | { outcome: "circuit_open"; retryAfterMs: number };

export interface EndpointBreaker {
  state(): BreakerState;
  /** Reads the state without changing it: no probe slot is taken, nothing is counted. */
  admission(): BreakerAdmission;
  /** Sends through the breaker; only 5xx, timeouts and network errors count against it. */
  send(request: WebhookRequest): Promise<BreakerSend>;
  /** Stops its timers and listeners (on eviction from the LRU, and at shutdown). */
  shutdown(): void;
  /** State, window counts and probe time, for operators; changes nothing. */
  snapshot(): BreakerSnapshot;
  /**
   * Closes it now (an operator's reset) and returns the state it was in. The window's counts
   * stay, as opossum keeps them when a probe closes it: a still failing endpoint opens again.
   */
  reset(): BreakerState;
}

export interface EndpointBreakerOptions {
  endpointId: string;
  send: SendWebhook;
  config: BreakerConfig;
  /** Emits "rotate" every windowMs / WINDOW_BUCKETS; shared so 10k breakers need one timer. */
  rotation: EventEmitter;
  /** Monotonic milliseconds. */
  now: () => number;
  onTransition: (to: BreakerState, from: BreakerState) => void;
}

/**
 * Results that mean the endpoint is unwell. 4xx (and 3xx) are answers from a working server;
 * blocked_destination is our own refusal. Neither says anything about the endpoint's health.
 */
export function countsAgainstEndpoint(sent: SendResult): boolean {
  switch (sent.result) {
    case "timeout":
    case "network_error":
      return true;
    case "http_error":
      return sent.status >= 500 && sent.status <= 599;
    default:
      return false;
  }
}

/**
 * Carries an unwell result through opossum's failure path: the breaker counts only rejections,
 * so the action rejects for exactly these and resolves for every other result. The send itself
 * never throws; this is unwrapped again below, so callers always get the result.
 */
class UnwellEndpoint extends Error {
  constructor(readonly sent: SendResult) {
    super(sent.result);
  }
}

const PASS: BreakerAdmission = Object.freeze({ outcome: "pass" });

function isOpenRejection(error: unknown): boolean {
  return (
    error instanceof Error &&
    CircuitBreaker.isOurError(error) &&
    (error as Error & { code?: unknown }).code === "EOPENBREAKER"
  );
}

/**
 * One endpoint's opossum breaker. Two choices keep opossum's numbers honest:
 * - The action rejects only for unwell results, instead of rejecting for every failure and
 *   filtering 4xx back out with errorFilter: a 4xx is a success from the breaker's point of
 *   view (the endpoint answered), with no exception thrown for it.
 * - Callers check admission() before sending. opossum counts a call into the window when it is
 *   fired, rejected ones included, so firing at an open breaker would dilute the failure rate
 *   with calls that never left. An EOPENBREAKER rejection still maps to circuit_open.
 * Calls still in flight are in the window too, so with more of them than the volume threshold
 * a dead endpoint opens the breaker once its failures outnumber them.
 */
export function createEndpointBreaker(options: EndpointBreakerOptions): EndpointBreaker {
  const { config, now } = options;
  const action = (request: WebhookRequest): Promise<SendResult> =>
    options
      .send(request)
      .then((sent) =>
        countsAgainstEndpoint(sent) ? Promise.reject(new UnwellEndpoint(sent)) : sent,
      );
  const breaker = new CircuitBreaker<[WebhookRequest], SendResult>(action, {
    name: options.endpointId,
    timeout: false, // the HTTP client owns timeouts, per endpoint
    errorThresholdPercentage: config.errorThresholdPercentage,
    volumeThreshold: config.volumeThreshold,
    resetTimeout: config.resetTimeoutMs,
    rollingCountTimeout: config.windowMs,
    rollingCountBuckets: WINDOW_BUCKETS,
    rotateBucketController: options.rotation,
    // No per-breaker intervals, and no sorting of latencies on every failure.
    enableSnapshots: false,
    rollingPercentilesEnabled: false,
  });

  let state: BreakerState = "closed";
  let openedAt = 0;
  const moveTo = (to: BreakerState) => {
    const from = state;
    if (from === to) return;
    state = to;
    options.onTransition(to, from);
  };
  breaker.on("open", () => {
    // opossum starts its reset timer in the same emit, so half-open is due at openedAt + reset.
    openedAt = now();
    moveTo("open");
  });
  breaker.on("halfOpen", () => moveTo("half_open"));
  breaker.on("close", () => moveTo("closed"));

  const untilHalfOpen = () => Math.max(0, Math.ceil(openedAt + config.resetTimeoutMs - now()));

  const admission = (): BreakerAdmission => {
    if (breaker.opened) return { outcome: "circuit_open", retryAfterMs: untilHalfOpen() };
    // Half-open with its one probe already out: the probe may close the breaker at any moment,
    // so no wait is suggested and the classifier's deferral floor decides.
    if (breaker.halfOpen && !breaker.pendingClose)
      return { outcome: "circuit_open", retryAfterMs: 0 };
    return PASS;
  };

  return {
    state: () => state,
    admission,
    send: (request) =>
      breaker.fire(request).then(
        (sent): BreakerSend => ({ outcome: "sent", sent }),
        (error: unknown): BreakerSend => {
          if (error instanceof UnwellEndpoint) return { outcome: "sent", sent: error.sent };
          if (isOpenRejection(error)) {
            const open = admission();
            return {
              outcome: "circuit_open",
              retryAfterMs: open.outcome === "circuit_open" ? open.retryAfterMs : 0,
            };
          }
          throw error; // a bug: the send never rejects
        },
      ),
    shutdown: () => breaker.shutdown(),
    snapshot() {
      const { fires, failures } = breaker.stats;
      // openedAt is monotonic; wall-clock times are taken back from now.
      const wallAt = (monotonic: number) =>
        new Date(Date.now() - (now() - monotonic)).toISOString();
      return {
        state,
        requests: fires,
        failures,
        windowMs: config.windowMs,
        errorThresholdPercentage: config.errorThresholdPercentage,
        volumeThreshold: config.volumeThreshold,
        openedAt: state === "closed" ? null : wallAt(openedAt),
        probeAt: state === "open" ? wallAt(openedAt + config.resetTimeoutMs) : null,
      };
    },
    reset() {
      const previous = state;
      breaker.close();
      return previous;
    },
  };
}
