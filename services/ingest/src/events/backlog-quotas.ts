import type { EndpointRecord, HooklineNames } from "@hookline/contracts";
import type { EndpointCache, Logger } from "@hookline/kit";
import type { JetStreamManager } from "@nats-io/jetstream";

/**
 * Per-endpoint backlog quotas below ENDPOINT_BACKLOG_QUOTA.
 *
 * The server enforces the deployment's quota exactly, per endpoint subject. An endpoint's own,
 * lower `backlogQuota` is checked here: for the few endpoints that set one (known once a task
 * for them has come by), the waiting count is read from the stream every second and counted up
 * locally in between. Between two reads (and across several ingest instances) it can let a few
 * more through; the server's quota still holds. Endpoints without an override cost nothing.
 */
export interface BacklogQuotas {
  /** False when the endpoint's own quota is used up: its task is dead-lettered instead. */
  admit(endpoint: EndpointRecord): boolean;
  stop(): void;
}

export function startBacklogQuotas(options: {
  jsm: JetStreamManager;
  names: HooklineNames;
  cache: Pick<EndpointCache, "get">;
  logger: Logger;
  intervalMs?: number;
}): BacklogQuotas {
  const { jsm, names } = options;
  /** Waiting tasks of each endpoint with its own quota; only those are ever read. */
  const waiting = new Map<string, number>();

  const refresh = async () => {
    for (const endpointId of waiting.keys()) {
      if (options.cache.get(endpointId)?.record.backlogQuota === undefined) {
        waiting.delete(endpointId); // deleted, or its quota cleared
        continue;
      }
      const subject = names.subjects.dispatchFresh(endpointId);
      const info = await jsm.streams.info(names.streams.dispatch, { subjects_filter: subject });
      waiting.set(endpointId, info.state.subjects?.[subject] ?? 0);
    }
  };
  let refreshing = false;
  const tick = () => {
    if (refreshing) return;
    refreshing = true;
    refresh()
      .catch((error: unknown) =>
        options.logger.debug({ err: error }, "backlog counts unavailable; counting on"),
      )
      .finally(() => {
        refreshing = false;
      });
  };
  const timer = setInterval(tick, options.intervalMs ?? 1_000);
  timer.unref();

  return {
    admit(endpoint) {
      const quota = endpoint.backlogQuota;
      if (quota === undefined) return true;
      const count = waiting.get(endpoint.id) ?? 0;
      if (count >= quota) return false;
      waiting.set(endpoint.id, count + 1);
      return true;
    },
    stop: () => clearInterval(timer),
  };
}
