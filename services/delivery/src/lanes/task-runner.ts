import {
  type DeliveryLane,
  decodeTask,
  type EndpointRecord,
  encodeOutcome,
  type HooklineNames,
  type TaskMeta,
} from "@hookline/contracts";
import {
  createOutageWarning,
  deadLetterInvalid,
  type EndpointCache,
  type Logger,
  type ServiceMetrics,
} from "@hookline/kit";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { EndpointGuards } from "../guards/endpoint-guards";
import { isAttempt, statusClass } from "../http/attempt";
import type { LaneRecorder } from "../metrics";
import type { EndpointCredentials } from "../signing/endpoint-credentials";
import { type AttemptSummary, encodeOutcomeHeaders, outcomeFor, outcomeMsgId } from "./outcome";
import type { SuccessRecords } from "./success-records";
import { taskHeaders } from "./task-headers";
import { endpointTimeoutMs, webhookRequestFor } from "./webhook-request";
import type { WriteCoalescer } from "./write-coalescer";

/** How soon an outcome that could not be stored is tried again, doubling up to the maximum. */
export const OUTCOME_RETRY_FIRST_MS = 250;
export const OUTCOME_RETRY_MAX_MS = 5_000;
const EMPTY = new Uint8Array(0);

export interface TaskRunnerDeps {
  js: JetStreamClient;
  names: HooklineNames;
  endpoints: Pick<EndpointCache, "lookup">;
  /** The send path: per-endpoint rate limit and circuit breaker around the HTTP client. */
  guards: EndpointGuards;
  /** Opens sealed secrets and header values (HOOKLINE_ENCRYPTION_KEYS); default: plain only. */
  credentials?: EndpointCredentials | undefined;
  serviceMetrics: ServiceMetrics;
  logger: Logger;
  /** ack_wait of the delivery consumers; longer calls keep the task with working(). */
  ackWaitMs: number;
  /** How long a task for an endpoint the cache doesn't know waits for the cache to catch up. */
  endpointLookupTimeoutMs: number;
  /** Batches the acks and audit publishes of one event-loop turn into one socket write. */
  writes: WriteCoalescer;
  /** The turn's success records for the attempt log; `writes` publishes them after its run. */
  successRecords: SuccessRecords;
  /** True once shutdown began: tasks waiting to store their outcome are given back. */
  stopping: () => boolean;
}

/** The steps of one task, which the lane runs in order with its own waiting in between. */
export interface TaskRunner {
  /** The task's metadata; undefined when it doesn't decode (then it is dead-lettered raw). */
  decode(msg: JsMsg): Promise<TaskMeta | undefined>;
  /** The endpoint, waiting a bounded time when the cache doesn't know it yet. */
  lookup(task: TaskMeta): Promise<EndpointRecord | undefined>;
  /** A pass that needs no request (endpoint missing or disabled); undefined when it does. */
  withoutRequest(endpoint: EndpointRecord | undefined): AttemptSummary | undefined;
  /** Sends through the guards. `rate_limited` means: not sent, wait retryAfterMs and resend. */
  attempt(msg: JsMsg, task: TaskMeta, endpoint: EndpointRecord): Promise<AttemptSummary>;
  /** Stores the outcome and settles the task (a failure's outcome is stored before the ack). */
  record(msg: JsMsg, task: TaskMeta, summary: AttemptSummary): Promise<void>;
}

/**
 * One lane's task steps: decode, look the endpoint up in memory, sign and send, then record the
 * outcome. A failure's outcome is stored (PubAck awaited) before the task is acked, so the
 * classifier always sees it; a success's outcome is audit only and not awaited.
 */
export function createTaskRunner(
  deps: TaskRunnerDeps,
  lane: DeliveryLane,
  record: LaneRecorder,
): TaskRunner {
  const { js, names, logger, writes, successRecords } = deps;
  const consumer = lane === "fresh" ? names.consumers.deliveryFresh : names.consumers.deliveryRetry;
  const warnOutage = createOutageWarning(logger.child({ lane }));

  const attempt = async (
    msg: JsMsg,
    task: TaskMeta,
    endpoint: EndpointRecord,
  ): Promise<AttemptSummary> => {
    const at = Date.now();
    // Past half of ack_wait the server would hand the task to another worker mid-call.
    const keepAlive =
      endpointTimeoutMs(endpoint) > deps.ackWaitMs / 2
        ? setInterval(() => msg.working(), Math.max(100, Math.floor(deps.ackWaitMs / 3)))
        : undefined;
    try {
      // Signed only when it will really be sent.
      const guarded = await deps.guards.send(endpoint, () =>
        webhookRequestFor(endpoint, task, msg.data, at, deps.credentials),
      );
      if (guarded.outcome !== "sent") {
        if (guarded.outcome === "rate_limited") {
          return { result: "rate_limited", at, ms: 0, retryAfterMs: guarded.retryAfterMs };
        }
        // An open breaker spends the attempt without a request, and the task follows its
        // schedule: no Retry-After, so it is not stretched to the breaker's reset time.
        return { result: "circuit_open", at, ms: 0 };
      }
      const { sent } = guarded;
      record.attemptSeconds(sent.result, sent.ms / 1_000);
      const summary: AttemptSummary = { result: sent.result, at, ms: sent.ms };
      if ("status" in sent) summary.status = sent.status;
      if ("error" in sent) summary.error = sent.error;
      if ("retryAfterMs" in sent) summary.retryAfterMs = sent.retryAfterMs;
      if ("responseBody" in sent) summary.responseBody = sent.responseBody;
      return summary;
    } finally {
      if (keepAlive) clearInterval(keepAlive);
    }
  };

  /**
   * The outcome carries the body unchanged: the classifier retries from these bytes. Until it is
   * stored (NATS down, or OUTCOMES full because the classifier is behind) the task stays ours:
   * it is kept alive with working() and the publish is tried again, so the endpoint is not
   * called again for an attempt already made, and the lane's slots filling up stops the pulling.
   * Only at shutdown is it given back.
   */
  const storeFailure = async (msg: JsMsg, task: TaskMeta, summary: AttemptSummary) => {
    const headers = encodeOutcome(
      outcomeFor(task, summary),
      outcomeMsgId(task, summary.result, msg.seq),
    );
    const subject = names.subjects.outcomeFailed(task.endpointId);
    const longestWait = Math.max(100, Math.min(OUTCOME_RETRY_MAX_MS, deps.ackWaitMs / 3));
    for (let wait = OUTCOME_RETRY_FIRST_MS; ; wait = Math.min(wait * 2, longestWait)) {
      try {
        await js.publish(subject, msg.data, { headers });
        break;
      } catch (error) {
        warnOutage(error, "cannot store outcomes; holding the tasks until they can be");
        if (deps.stopping()) {
          msg.nak();
          return;
        }
        msg.working();
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    writes.defer(() => msg.ack());
  };

  const recordSuccess = (msg: JsMsg, task: TaskMeta, summary: AttemptSummary) => {
    const outcome = outcomeFor(task, summary);
    // The same bytes encodeOutcome gives.
    const headers = encodeOutcomeHeaders(outcome, outcomeMsgId(task, summary.result, msg.seq));
    // The attempt log keeps each event's body once: from the first attempt of the task (or of
    // its replay). Later attempts' records carry none, which keeps the stream small.
    const data = outcome.attempt <= 1 ? msg.data : EMPTY;
    writes.defer(() => {
      // Published with the turn's other records once its writes are done, in the same flush.
      successRecords.add(task.endpointId, headers, data);
      msg.ack();
    });
    record.endToEndSeconds(Math.max(0, Date.now() - task.createdAt) / 1_000);
  };

  return {
    async decode(msg) {
      // contracts' decodeTask only calls get() on the headers.
      const decoded = decodeTask(taskHeaders(msg) as MsgHdrs | undefined);
      if (decoded.ok) return decoded.value;
      await deadLetterInvalid({
        js,
        names,
        metrics: deps.serviceMetrics,
        consumer,
        msg,
        error: decoded.error,
      });
      return undefined;
    },
    async lookup(task) {
      const cached = await deps.endpoints.lookup(task.endpointId, deps.endpointLookupTimeoutMs);
      return cached?.record;
    },
    withoutRequest(endpoint) {
      const at = Date.now();
      if (!endpoint) return { result: "endpoint_missing", at, ms: 0 };
      if (endpoint.disabled) {
        return { result: "endpoint_disabled", at, ms: 0, error: endpoint.disabledReason };
      }
      return undefined;
    },
    attempt,
    async record(msg, task, summary) {
      record.handled(
        summary.result,
        statusClass(summary.status),
        task.attempt === 0 ? "first" : "retry",
      );
      if (logger.isLevelEnabled("debug")) {
        logger.debug(
          {
            taskId: task.taskId,
            eventId: task.eventId,
            endpointId: task.endpointId,
            lane,
            result: summary.result,
            status: summary.status,
            attempt: isAttempt(summary.result) ? task.attempt + 1 : task.attempt,
          },
          "task handled",
        );
      }
      if (summary.result === "delivered") recordSuccess(msg, task, summary);
      else await storeFailure(msg, task, summary);
    },
  };
}
