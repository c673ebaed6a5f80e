import { type EndpointRecord, type EndpointRetryPolicy, parseDuration } from "@hookline/contracts";
import type { RetryBackoff } from "./retry-strategies";

function durationsOf(texts: readonly string[]): number[] | undefined {
  const values = texts.map((text) => parseDuration(text));
  return values.every((ms) => ms !== undefined) ? (values as number[]) : undefined;
}

/** A legacy `retrySchedule`: strategy "schedule", one attempt more than it has entries. */
export function backoffOfSchedule(
  texts: readonly string[],
  defaults: RetryBackoff,
): RetryBackoff | undefined {
  const schedule = durationsOf(texts);
  if (schedule === undefined || schedule.length === 0) return undefined;
  return { ...defaults, strategy: "schedule", schedule, maxAttempts: schedule.length + 1 };
}

/** An endpoint's `retryPolicy`: what it leaves out comes from the deployment's default. */
export function backoffOfPolicy(
  policy: EndpointRetryPolicy,
  defaults: RetryBackoff,
): RetryBackoff | undefined {
  const jitter = policy.jitter ?? defaults.jitter;
  if (policy.strategy === "schedule") {
    const schedule = durationsOf(policy.schedule ?? []);
    if (schedule === undefined || schedule.length === 0) return undefined;
    const maxAttempts = policy.maxAttempts ?? schedule.length + 1;
    return { ...defaults, strategy: "schedule", schedule, maxAttempts, jitter };
  }
  const baseDelayMs =
    policy.baseDelay === undefined ? defaults.baseDelayMs : parseDuration(policy.baseDelay);
  const ownMax = policy.maxDelay === undefined ? undefined : parseDuration(policy.maxDelay);
  if (baseDelayMs === undefined || (policy.maxDelay !== undefined && ownMax === undefined)) {
    return undefined;
  }
  return {
    strategy: policy.strategy,
    baseDelayMs,
    // A base above the default cap, with no cap of its own: the base is the cap.
    maxDelayMs: ownMax ?? Math.max(defaults.maxDelayMs, baseDelayMs),
    maxAttempts: policy.maxAttempts ?? defaults.maxAttempts,
    jitter,
    schedule: defaults.schedule,
  };
}

/**
 * The backoff for an endpoint: its own `retryPolicy`, else its `retrySchedule`, else the
 * default. Worked out once per record (records are replaced, never mutated, when the KV watch
 * sees a write), so the hot path does a WeakMap lookup, not a parse.
 */
export function createBackoffLookup(
  defaults: RetryBackoff,
): (endpoint: EndpointRecord | undefined) => RetryBackoff {
  const resolved = new WeakMap<object, RetryBackoff>();
  return (endpoint) => {
    const own = endpoint?.retryPolicy ?? endpoint?.retrySchedule;
    if (endpoint === undefined || own === undefined) return defaults;
    let backoff = resolved.get(own);
    if (backoff === undefined) {
      // The record schema only admits parseable durations; a stray one falls back to default.
      backoff =
        (endpoint.retryPolicy !== undefined
          ? backoffOfPolicy(endpoint.retryPolicy, defaults)
          : backoffOfSchedule(endpoint.retrySchedule ?? [], defaults)) ?? defaults;
      resolved.set(own, backoff);
    }
    return backoff;
  };
}
