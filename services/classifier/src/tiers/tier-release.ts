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
  type HeaderBlockPublisher,
  type Logger,
  publishTaskDeadLetter,
  rawHeaderBytes,
  type ServiceMetrics,
} from "@hookline/kit";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { createBlockPublisher } from "../block-publisher";
import { passMsgId } from "../message-ids";
import type { ClassifierMetrics } from "../metrics";
import { type RetryTier, retryTierFor } from "../scheduling/retry-tiers";
import { type RawTask, rawTaskBlock, readRawTask } from "./raw-task";

/** When DISPATCH refuses a due retry (NATS down, stream full), it is tried again after this. */
export const RELEASE_RETRY_NAK_MS = 5_000;

export interface TierReleaseDeps {
  js: JetStreamClient;
  /**
   * Publishes retries as header bytes; one per classifier, shared by every handler (one inbox,
   * one timeout sweep). Default: a publisher of the handler's own on `js`.
   */
  publishBlock?: HeaderBlockPublisher;
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
 *
 * A task is read from its header bytes (raw-task.ts: only what decodeTask would accept, with
 * nothing but a task's headers) and published as the same block with the new Nats-Msg-Id, its
 * PubAck read off one inbox (release-publisher.ts); anything else takes the decodeTask and
 * encodeTask path, which dead-letters what is invalid.
 */
export function createTierReleaseHandler(deps: TierReleaseDeps): (msg: JsMsg) => Promise<void> {
  const { js, names, metrics } = deps;
  const now = deps.now ?? Date.now;
  const warnOutage = createOutageWarning(deps.logger);
  const publish = deps.publishBlock ?? createBlockPublisher(js);
  const released = metrics.retryReleased.labels({ tier: deps.tier.name });

  /** Publishing failed: dead-letter a full endpoint's retry, or try again later. */
  const refused = (msg: JsMsg, task: TaskMeta | undefined, error: unknown): Promise<boolean> => {
    if (isBacklogFull(error)) return backlogFull(msg, task);
    warnOutage(error, "cannot release due retries to dispatch; they will be tried again");
    msg.nak(RELEASE_RETRY_NAK_MS);
    return NOT_RELEASED;
  };

  /** Publishes the task on (PubAck awaited) and acks it; naks it for later if that fails. */
  const forward = (msg: JsMsg, task: TaskMeta, subject: string): Promise<boolean> =>
    js.publish(subject, msg.data, { headers: encodeTask(task, passMsgId(task, msg.seq)) }).then(
      () => {
        msg.ack();
        return true;
      },
      (error) => refused(msg, task, error),
    );

  /** forward() for a task read from its header bytes: the same block, a new Nats-Msg-Id. */
  const forwardRaw = (msg: JsMsg, task: RawTask, subject: string): Promise<boolean> =>
    publish(subject, msg.data, rawTaskBlock(task, passMsgId(task, msg.seq))).then(
      () => {
        msg.ack();
        return true;
      },
      (error) => refused(msg, undefined, error),
    );

  /**
   * The endpoint has its whole quota waiting already: dead-letter rather than hold a tier slot
   * nakking, so nothing is lost and the retries of other endpoints behind it go on.
   */
  const backlogFull = async (msg: JsMsg, known: TaskMeta | undefined): Promise<false> => {
    let task = known;
    if (task === undefined) {
      // Read from the header bytes, which only ever accepts what decodeTask accepts.
      const decoded = decodeTask(msg.headers);
      if (!decoded.ok) {
        await invalid(msg, decoded.error);
        return false;
      }
      task = decoded.value;
    }
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

  const invalid = (msg: JsMsg, error: string) =>
    deadLetterInvalid({
      js,
      names,
      metrics: deps.serviceMetrics,
      consumer: deps.consumer,
      msg,
      error,
    });

  const countReleased = (ok: boolean) => {
    if (ok) released.inc();
  };

  /**
   * Where a task waiting until `notBefore` goes: nakked (undefined returned), on to a longer
   * tier's subject, or (due) to dispatch.retry.
   */
  const route = (msg: JsMsg, notBefore: number | undefined, endpointId: string) => {
    const early = (notBefore ?? 0) - now();
    if (early > deps.tier.ms) {
      const longer = retryTierFor(deps.tiers, early);
      if (longer.ms > deps.tier.ms)
        return { due: false, subject: names.subjects.retry(longer.name, endpointId) };
      msg.nak(deps.tier.ms);
      return undefined;
    }
    if (early > 0) {
      msg.nak(early);
      return undefined;
    }
    return { due: true, subject: names.subjects.dispatchRetry(endpointId) };
  };

  /** Today's path, for anything the header-bytes reader leaves alone. */
  const handleDecoded = async (msg: JsMsg): Promise<void> => {
    const decoded = decodeTask(msg.headers);
    if (!decoded.ok) {
      await invalid(msg, decoded.error);
      return;
    }
    const task = decoded.value;
    const to = route(msg, task.notBefore, task.endpointId);
    if (to === undefined) return;
    const ok = await forward(msg, task, to.subject);
    if (to.due) countReleased(ok);
  };

  return (msg) => {
    const bytes = rawHeaderBytes(msg);
    const task = bytes === undefined ? undefined : readRawTask(bytes);
    if (task === undefined) return handleDecoded(msg);
    const to = route(msg, task.notBefore, task.endpointId);
    if (to === undefined) return DONE;
    const sent = forwardRaw(msg, task, to.subject);
    return to.due ? sent.then(countReleased) : sent.then(ignore);
  };
}

const DONE: Promise<void> = Promise.resolve();
const NOT_RELEASED: Promise<false> = Promise.resolve(false);
const ignore = () => {};
