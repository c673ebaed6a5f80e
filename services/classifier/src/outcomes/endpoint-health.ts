import type { EndpointRecord, OutcomeMeta } from "@hookline/contracts";
import type { EndpointWriter, Logger } from "@hookline/kit";
import type { ClassifierMetrics } from "../metrics";

export type HealthChange =
  | { action: "none" }
  /** The first failure after a success: remember when the run of failures began. */
  | { action: "mark"; since: number }
  /** Failing without a success for ENDPOINT_DISABLE_AFTER: disable it. */
  | { action: "disable"; since: string };

/** What one failed attempt means for its endpoint's health. */
export function healthChangeFor(
  endpoint: EndpointRecord | undefined,
  failedAt: number,
  now: number,
  disableAfterMs: number,
): HealthChange {
  if (endpoint === undefined || endpoint.disabled) return { action: "none" };
  if (endpoint.failingSince === undefined) return { action: "mark", since: failedAt };
  if (now - Date.parse(endpoint.failingSince) >= disableAfterMs) {
    return { action: "disable", since: endpoint.failingSince };
  }
  return { action: "none" };
}

export interface EndpointHealth {
  /** A failed attempt; writes (rarely) in the background, never slowing the outcome down. */
  failed(outcome: OutcomeMeta, endpoint: EndpointRecord | undefined): void;
  /** Resolves once the background writes have finished (tests, shutdown). */
  settled(): Promise<void>;
}

/**
 * Disables an endpoint that has failed without a success for ENDPOINT_DISABLE_AFTER, as Svix
 * does. The run's start is kept on the record (`failingSince`), written once per run by
 * compare-and-set; delivery clears it on the next success. Per outcome this is a cache read.
 */
export function createEndpointHealth(options: {
  writer: EndpointWriter;
  disableAfterMs: number;
  metrics: Pick<ClassifierMetrics, "endpointsDisabled">;
  logger: Logger;
  now?: () => number;
}): EndpointHealth {
  const now = options.now ?? Date.now;
  const writing = new Map<string, Promise<void>>();

  const apply = async (endpointId: string, change: HealthChange) => {
    const at = new Date(now()).toISOString();
    if (change.action === "mark") {
      const since = new Date(change.since).toISOString();
      await options.writer.write(endpointId, (record) =>
        record.failingSince !== undefined ? undefined : { ...record, failingSince: since },
      );
      return;
    }
    if (change.action !== "disable") return;
    const reason = `failing without a success since ${change.since}`;
    const result = await options.writer.write(endpointId, (record) =>
      record.disabled || record.failingSince === undefined
        ? undefined
        : { ...record, disabled: true, disabledReason: reason, updatedAt: at },
    );
    if (result.outcome === "written") {
      options.metrics.endpointsDisabled.inc({ reason: "failing" });
      options.logger.warn(
        { endpointId, failingSince: change.since },
        `endpoint disabled: ${reason}`,
      );
    }
  };

  return {
    failed(outcome, endpoint) {
      const failedAt = outcome.history.at(-1)?.at ?? now();
      const change = healthChangeFor(endpoint, failedAt, now(), options.disableAfterMs);
      if (change.action === "none" || writing.has(outcome.endpointId)) return;
      const write = apply(outcome.endpointId, change)
        .catch((error: unknown) =>
          options.logger.warn(
            { err: error, endpointId: outcome.endpointId },
            "cannot record endpoint health; next failure tries again",
          ),
        )
        .finally(() => writing.delete(outcome.endpointId));
      writing.set(outcome.endpointId, write);
    },
    async settled() {
      await Promise.all(writing.values());
    },
  };
}
