import { decodeTask, encodeTask, type HooklineNames } from "@hookline/contracts";
import {
  createOutageWarning,
  deadLetterInvalid,
  type Logger,
  type ServiceMetrics,
} from "@hookline/kit";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { passMsgId } from "../message-ids";
import type { ClassifierMetrics } from "../metrics";

/** When DISPATCH refuses a due retry (NATS down, stream full), it is tried again after this. */
export const RELEASE_RETRY_NAK_MS = 5_000;

export interface TierReleaseDeps {
  js: JetStreamClient;
  names: HooklineNames;
  /** The tier's name, for metrics: `5s`. */
  tier: string;
  /** The consumer the handler serves: `retry-5s`. */
  consumer: string;
  serviceMetrics: ServiceMetrics;
  metrics: ClassifierMetrics;
  logger: Logger;
  now?: () => number;
}

/**
 * Handles one waiting retry from a tier: an early one is nakked until its Not-Before; a due one
 * is published to `dispatch.retry.<ep>` (PubAck awaited), then acked. Every task header is kept,
 * Not-Before included (delivery ignores it; it shows when the retry was due); only the
 * Nats-Msg-Id changes.
 */
export function createTierReleaseHandler(deps: TierReleaseDeps): (msg: JsMsg) => Promise<void> {
  const { js, names, metrics } = deps;
  const now = deps.now ?? Date.now;
  const warnOutage = createOutageWarning(deps.logger);

  return async (msg) => {
    const decoded = decodeTask(msg.headers);
    if (!decoded.ok) {
      await deadLetterInvalid({
        js,
        names,
        metrics: deps.serviceMetrics,
        consumer: deps.consumer,
        msg,
        error: decoded.error,
      });
      return;
    }
    const task = decoded.value;
    const early = (task.notBefore ?? 0) - now();
    if (early > 0) {
      msg.nak(early);
      return;
    }
    const headers = encodeTask(task, passMsgId(task, msg.seq));
    try {
      await js.publish(names.subjects.dispatchRetry(task.endpointId), msg.data, { headers });
    } catch (error) {
      warnOutage(error, "cannot release due retries to dispatch; they will be tried again");
      msg.nak(RELEASE_RETRY_NAK_MS);
      return;
    }
    metrics.retryReleased.inc({ tier: deps.tier });
    msg.ack();
  };
}
