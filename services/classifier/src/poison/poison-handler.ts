import { decodeTask, encodeDeadLetter, Header, type HooklineNames } from "@hookline/contracts";
import {
  createOutageWarning,
  deadLetterInvalid,
  type Logger,
  publishInvalid,
  type ServiceMetrics,
} from "@hookline/kit";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from "@nats-io/jetstream";
import { z } from "zod";
import { poisonMsgId } from "../message-ids";
import type { ClassifierMetrics } from "../metrics";

/** When DISPATCH or DEADLETTER can't be reached, the advisory comes back after this. */
export const POISON_RETRY_NAK_MS = 5_000;

/** The fields of `io.nats.jetstream.advisory.v1.max_deliver` we use. */
const maxDeliveriesAdvisorySchema = z.object({
  stream: z.string().min(1),
  consumer: z.string().min(1),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
});
type MaxDeliveriesAdvisory = z.infer<typeof maxDeliveriesAdvisorySchema>;

export interface PoisonHandlerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: HooklineNames;
  serviceMetrics: ServiceMetrics;
  metrics: ClassifierMetrics;
  logger: Logger;
}

function parseAdvisory(
  msg: JsMsg,
): { ok: true; value: MaxDeliveriesAdvisory } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = msg.json();
  } catch {
    return { ok: false, error: "advisory is not JSON" };
  }
  const parsed = maxDeliveriesAdvisorySchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: `advisory: ${parsed.error.issues[0]?.message}` };
  return { ok: true, value: parsed.data };
}

/** A worker may still ack the task between our read and our delete; then it is gone already. */
async function deleteIfPresent(jsm: JetStreamManager, stream: string, seq: number) {
  try {
    await jsm.streams.deleteMessage(stream, seq, false);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound)) {
      throw error;
    }
  }
}

/** Where a poison task sits, and what was done to it. */
export type PoisonTask = Omit<MaxDeliveriesAdvisory, "deliveries"> & { deliveries: number };

/**
 * Settles one poison task: reads it by sequence, dead-letters it as `poison` (raw as
 * `invalid_message` when its headers don't decode) and deletes it from its stream. Each step is
 * safe to repeat. Throws when NATS can't be reached, for the caller to try again.
 */
export function createPoisonSettler(
  deps: PoisonHandlerDeps,
): (poison: PoisonTask) => Promise<void> {
  const { js, jsm, names, metrics, logger } = deps;
  const consumer = names.consumers.classifierPoison;

  const deadLetterPoison = async (stored: StoredMsg, advisory: PoisonTask) => {
    const decoded = decodeTask(stored.header);
    const detail = `delivered ${advisory.deliveries} times to ${advisory.consumer} without an ack`;
    if (decoded.ok) {
      const task = decoded.value;
      const h = encodeDeadLetter(
        {
          ...task,
          notBefore: undefined,
          history: task.history ?? [],
          reason: "poison",
        },
        poisonMsgId(task.taskId, stored.seq),
      );
      h.set(Header.error, detail);
      await js.publish(names.subjects.deadletter(task.endpointId), stored.data, { headers: h });
      metrics.decisions.inc({ decision: "deadletter", reason: "poison" });
      logger.warn(
        {
          taskId: task.taskId,
          eventId: task.eventId,
          endpointId: task.endpointId,
          seq: stored.seq,
          detail,
        },
        "poison task dead-lettered",
      );
      return;
    }
    await publishInvalid({
      js,
      names,
      raw: {
        subject: stored.subject,
        stream: advisory.stream,
        seq: stored.seq,
        data: stored.data,
        headers: stored.header,
      },
      error: `poison (${detail}); ${decoded.error}`,
    });
    deps.serviceMetrics.invalidMessages.inc({ consumer });
    metrics.decisions.inc({ decision: "deadletter", reason: "invalid_message" });
    logger.warn(
      { seq: stored.seq, detail, error: decoded.error },
      "undecodable poison dead-lettered raw",
    );
  };

  return async (poison) => {
    const stored = await jsm.streams.getMessage(poison.stream, { seq: poison.stream_seq });
    // Already gone: acked by a worker after all, or deleted by us before a crash.
    if (stored === null) return;
    await deadLetterPoison(stored, poison);
    await deleteIfPresent(jsm, poison.stream, poison.stream_seq);
  };
}

/**
 * Handles one MAX_DELIVERIES advisory for a dispatch stream: a task that crashed or stalled a
 * delivery worker `max_deliver` times. Settles it (above), then acks the advisory.
 */
export function createPoisonHandler(deps: PoisonHandlerDeps): (msg: JsMsg) => Promise<void> {
  const { js, names, logger } = deps;
  const consumer = names.consumers.classifierPoison;
  const warnOutage = createOutageWarning(logger);
  const settle = createPoisonSettler(deps);

  return async (msg) => {
    const parsed = parseAdvisory(msg);
    if (!parsed.ok) {
      await deadLetterInvalid({
        js,
        names,
        metrics: deps.serviceMetrics,
        consumer,
        msg,
        error: parsed.error,
      });
      return;
    }
    const advisory = parsed.value;
    if (
      advisory.stream !== names.streams.dispatch &&
      advisory.stream !== names.streams.dispatchRetry
    ) {
      logger.warn({ advisory }, "max-deliveries advisory for a stream we don't own; ignored");
      msg.ack();
      return;
    }
    try {
      await settle(advisory);
    } catch (error) {
      warnOutage(error, "cannot handle poison tasks; advisories will come back");
      msg.nak(POISON_RETRY_NAK_MS);
      return;
    }
    msg.ack();
  };
}
