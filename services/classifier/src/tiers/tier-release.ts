import {
  decodeTask,
  encodeTask,
  type HooklineNames,
  isBacklogFull,
  type TaskMeta,
} from "@hookline/contracts";
import {
  createOutageWarning,
  deadLetterInvalid,
  type Logger,
  publishTaskDeadLetter,
  type ServiceMetrics,
} from "@hookline/kit";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { passMsgId } from "../message-ids";
import type { ClassifierMetrics } from "../metrics";
import { type RetryTier, retryTierFor } from "../scheduling/retry-tiers";

/** When DISPATCH refuses a due retry (NATS down, stream full), it is tried again after this. */
export const RELEASE_RETRY_NAK_MS = 5_000;

export interface TierReleaseDeps {
  js: JetStreamClient;
  names: HooklineNames;
  /** The tier this handler serves. */
  tier: RetryTier;
  /** Every current tier, for a wait that belongs in a longer one. */
  tiers: readonly RetryTier[];
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
 *
 * A nakked message keeps its tier slot while it waits, so no wait may be longer than the tier:
 * one that is (written before the delays were capped, or by a tier list since shortened) moves
 * to the tier it belongs in, or, in the longest tier, is nakked a tier length at a time.
 */
export function createTierReleaseHandler(deps: TierReleaseDeps): (msg: JsMsg) => Promise<void> {
  const { js, names, metrics } = deps;
  const now = deps.now ?? Date.now;
  const warnOutage = createOutageWarning(deps.logger);

  /** Publishes the task on (PubAck awaited) and acks it; naks it for later if that fails. */
  const forward = async (msg: JsMsg, task: TaskMeta, subject: string): Promise<boolean> => {
    const headers = encodeTask(task, passMsgId(task, msg.seq));
    try {
      await js.publish(subject, msg.data, { headers });
    } catch (error) {
      if (isBacklogFull(error)) return await backlogFull(msg, task);
      warnOutage(error, "cannot release due retries to dispatch; they will be tried again");
      msg.nak(RELEASE_RETRY_NAK_MS);
      return false;
    }
    msg.ack();
    return true;
  };

  /**
   * The endpoint has its whole quota waiting already: dead-letter rather than hold a tier slot
   * nakking, so nothing is lost and the retries of other endpoints behind it go on.
   */
  const backlogFull = async (msg: JsMsg, task: TaskMeta): Promise<false> => {
    try {
      await publishTaskDeadLetter({
        js,
        names,
        task,
        body: msg.data,
        reason: "backlog_full",
        msgId: `${task.taskId}#backlog@${msg.seq}`,
      });
    } catch (error) {
      warnOutage(error, "cannot dead-letter retries of a full endpoint; they will come back");
      msg.nak(RELEASE_RETRY_NAK_MS);
      return false;
    }
    metrics.decisions.inc({ decision: "deadletter", reason: "backlog_full" });
    msg.ack();
    return false;
  };

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
    if (early > deps.tier.ms) {
      const longer = retryTierFor(deps.tiers, early);
      if (longer.ms > deps.tier.ms) {
        await forward(msg, task, names.subjects.retry(longer.name, task.endpointId));
        return;
      }
      msg.nak(deps.tier.ms);
      return;
    }
    if (early > 0) {
      msg.nak(early);
      return;
    }
    if (await forward(msg, task, names.subjects.dispatchRetry(task.endpointId))) {
      metrics.retryReleased.inc({ tier: deps.tier.name });
    }
  };
}
