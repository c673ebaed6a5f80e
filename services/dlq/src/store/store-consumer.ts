import { type HooklineNames, urlWithoutCredentials } from "@hookline/contracts";
import type { EndpointCache, Logger, ServiceMetrics } from "@hookline/kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { Kysely } from "kysely";
import { isDatabaseOutage } from "../db/outage";
import type { Database } from "../db/schema";
import type { DlqMetrics } from "../metrics";
import { createBatchedLetterStore } from "./batched-store";
import { readIncoming } from "./incoming";
import type { StoreOutcome } from "./store-letter";

export interface StoreHandlerOptions {
  db: Kysely<Database>;
  names: HooklineNames;
  cache: Pick<EndpointCache, "get">;
  metrics: ServiceMetrics;
  dlqMetrics: DlqMetrics;
  logger: Logger;
  consumer: string;
  now?: () => number;
  /** How long a letter that could not be stored waits in JetStream before it comes back. */
  retryDelayMs?: number;
  /** How long the failed handler keeps its slot, so a backlog doesn't spin on a dead database. */
  failurePauseMs?: number;
  /** Told of each letter stored (a first death or a death again): operational events count. */
  onStored?: (letter: { endpointId: string | null; tenantId: string }) => void;
}

const DEFAULT_RETRY_DELAY_MS = 2_000;
const DEFAULT_FAILURE_PAUSE_MS = 250;

/**
 * The `dlq-store` handler: read, upsert in Postgres (batched per turn), then ack. While the database is away it
 * naks with a delay, so the letter stays in JetStream until it can be stored.
 */
export function createStoreHandler(options: StoreHandlerOptions): (msg: JsMsg) => Promise<void> {
  const { db, names, cache, logger, dlqMetrics } = options;
  const now = options.now ?? Date.now;
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const failurePauseMs = options.failurePauseMs ?? DEFAULT_FAILURE_PAUSE_MS;
  const store = createBatchedLetterStore(db, now);
  let outage = false;

  return async (msg) => {
    const letter = readIncoming(msg, names);
    const url = letter.endpointId === null ? undefined : cache.get(letter.endpointId)?.record.url;
    const endpointUrl = url === undefined ? null : urlWithoutCredentials(url);
    let result: StoreOutcome;
    try {
      result = await store(letter, endpointUrl);
    } catch (error) {
      if (isDatabaseOutage(error)) {
        // One warning per outage; every letter meanwhile waits in JetStream.
        if (!outage) logger.warn({ err: error }, "database unavailable; letters wait in JetStream");
        outage = true;
      } else {
        logger.error(
          {
            err: error,
            seq: msg.seq,
            taskId: letter.taskId,
            eventId: letter.eventId,
            endpointId: letter.endpointId,
          },
          "storing a letter failed",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, failurePauseMs));
      msg.nak(retryDelayMs);
      return;
    }
    if (outage) logger.info("database reachable again; storing letters");
    outage = false;

    if (result.outcome === "stored" || result.outcome === "died_again") {
      dlqMetrics.stored.inc({ reason: letter.reason });
      options.onStored?.(letter);
    }
    if (letter.invalid !== undefined && msg.subject !== names.subjects.deadletterInvalid) {
      options.metrics.invalidMessages.inc({ consumer: options.consumer });
    }
    msg.ack();
  };
}
