import {
  type AttemptResult,
  type DeadLetterReason,
  deadLetterHeaderBlock,
  decodeOutcome,
  type HooklineNames,
  type OutcomeMeta,
  taskHeaderBlock,
} from "@hookline/contracts";
import {
  createOutageWarning,
  deadLetterInvalid,
  type EndpointCache,
  type HeaderBlockPublisher,
  type Logger,
  type ServiceMetrics,
} from "@hookline/kit";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createBlockPublisher } from "../block-publisher";
import { deadLetterMsgId, passMsgId } from "../message-ids";
import type { ClassifierMetrics } from "../metrics";
import type { RandomSource, RetryPolicy } from "../scheduling/retry-plan";
import { createBackoffLookup } from "../scheduling/retry-schedule";
import { createClassifiedRecorder } from "./classified-record";
import { deadLetterOfOutcome, decideOutcome } from "./decide-outcome";
import type { EndpointDisabler } from "./endpoint-disabler";
import type { EndpointHealth } from "./endpoint-health";

/** Results that are failed attempts at the endpoint (not our own refusals or missing ones). */
const attemptFailures = new Set<AttemptResult>([
  "http_error",
  "timeout",
  "network_error",
  "circuit_open",
]);

/** When a publish or the KV write fails (NATS unavailable), the outcome comes back after this. */
export const OUTCOME_RETRY_NAK_MS = 5_000;
export const GONE_DISABLED_REASON = "410 Gone from endpoint";

export interface OutcomeHandlerDeps {
  js: JetStreamClient;
  /** Core-publishes each decided outcome to the attempt log (`outcome.classified.<ep>`). */
  nc: Pick<NatsConnection, "publish">;
  /**
   * Publishes retries as header bytes; one per classifier, shared by every handler (one inbox,
   * one timeout sweep). Default: a publisher of the handler's own on `js`.
   */
  publishBlock?: HeaderBlockPublisher;
  names: HooklineNames;
  endpoints: Pick<EndpointCache, "get">;
  disabler: EndpointDisabler;
  /** Disables endpoints failing without a success for ENDPOINT_DISABLE_AFTER. */
  health?: EndpointHealth;
  policy: RetryPolicy;
  serviceMetrics: ServiceMetrics;
  metrics: ClassifierMetrics;
  logger: Logger;
  now?: () => number;
  random?: RandomSource;
}

/**
 * Handles one `outcome.failed.<ep>`: decides, publishes the retry or the dead letter (body
 * unchanged, PubAck awaited), copies the outcome with the decision to the attempt log, and only
 * then acks the outcome, so a crash in between repeats the decision instead of losing the task;
 * the Nats-Msg-Ids make the repeats duplicates.
 */
export function createOutcomeHandler(deps: OutcomeHandlerDeps): (msg: JsMsg) => Promise<void> {
  const { js, names, logger, metrics, policy } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const backoffFor = createBackoffLookup(policy.backoff);
  const warnOutage = createOutageWarning(logger);
  const record = createClassifiedRecorder({ nc: deps.nc, names, logger });

  const sendBlock = deps.publishBlock ?? createBlockPublisher(js);
  /**
   * True once stored; on failure the outcome is nakked for later and false returned. Retries
   * and dead letters go as header bytes through the shared publisher (no `nc.request`, with its
   * timer and error objects, per message).
   */
  const publish = async (msg: JsMsg, subject: string, block: Uint8Array): Promise<boolean> => {
    try {
      await sendBlock(subject, msg.data, block);
      return true;
    } catch (error) {
      warnOutage(error, "cannot publish retries or dead letters; outcomes will come back");
      msg.nak(OUTCOME_RETRY_NAK_MS);
      return false;
    }
  };

  const deadLetter = async (msg: JsMsg, outcome: OutcomeMeta, reason: DeadLetterReason) => {
    const headers = deadLetterHeaderBlock(
      deadLetterOfOutcome(outcome, reason),
      deadLetterMsgId(outcome, msg.seq),
    );
    if (!(await publish(msg, names.subjects.deadletter(outcome.endpointId), headers))) return;
    metrics.decisions.inc({ decision: "deadletter", reason });
    record(msg, outcome, { decision: "deadletter", reason });
    msg.ack();
  };

  /** True when the dead letter may follow: disabled, or nothing left to disable. */
  const disableGoneEndpoint = async (msg: JsMsg, outcome: OutcomeMeta): Promise<boolean> => {
    const endpointId = outcome.endpointId;
    try {
      const result = await deps.disabler.disable(endpointId, GONE_DISABLED_REASON);
      switch (result.outcome) {
        case "disabled":
          metrics.endpointsDisabled.inc({ reason: "endpoint_gone" });
          logger.info(
            {
              endpointId,
              revision: result.revision,
              taskId: outcome.taskId,
              eventId: outcome.eventId,
            },
            "endpoint answered 410 Gone; disabled",
          );
          return true;
        case "invalid":
          logger.error(
            { endpointId, error: result.error },
            "endpoint answered 410 Gone but its record is invalid; not disabled",
          );
          return true;
        case "conflict":
          logger.warn({ endpointId }, "endpoint kept changing while disabling it; will retry");
          msg.nak(OUTCOME_RETRY_NAK_MS);
          return false;
        case "already_disabled":
        case "missing":
          return true;
      }
    } catch (error) {
      warnOutage(error, "cannot disable endpoints; outcomes will come back");
      msg.nak(OUTCOME_RETRY_NAK_MS);
      return false;
    }
  };

  return async (msg) => {
    const decoded = decodeOutcome(msg.headers);
    if (!decoded.ok) {
      await deadLetterInvalid({
        js,
        names,
        metrics: deps.serviceMetrics,
        consumer: names.consumers.classifier,
        msg,
        error: decoded.error,
      });
      return;
    }
    const outcome = decoded.value;
    const endpoint = deps.endpoints.get(outcome.endpointId)?.record;
    if (attemptFailures.has(outcome.result)) deps.health?.failed(outcome, endpoint);
    const decision = decideOutcome(outcome, backoffFor(endpoint), policy, now(), random);
    if (logger.isLevelEnabled("debug")) {
      logger.debug(
        {
          taskId: outcome.taskId,
          eventId: outcome.eventId,
          endpointId: outcome.endpointId,
          result: outcome.result,
          status: outcome.status,
          action: decision.action,
        },
        "outcome classified",
      );
    }

    switch (decision.action) {
      case "retry": {
        const { task, tier } = decision;
        const headers = taskHeaderBlock(task, passMsgId(task, msg.seq));
        if (!(await publish(msg, names.subjects.retry(tier.name, task.endpointId), headers))) {
          return;
        }
        metrics.retryScheduled.inc({ tier: tier.name });
        metrics.decisions.inc({
          decision: decision.kind === "attempt" ? "retry" : "defer",
          reason: outcome.result,
        });
        // Deferrals too: the log shows when the task will be tried again.
        record(msg, outcome, { decision: "retry", notBefore: task.notBefore });
        msg.ack();
        return;
      }
      case "deadletter":
        await deadLetter(msg, outcome, decision.reason);
        return;
      case "disable_endpoint":
        if (await disableGoneEndpoint(msg, outcome)) {
          await deadLetter(msg, outcome, decision.reason);
        }
        return;
      case "ignore":
        metrics.decisions.inc({ decision: "ignore", reason: outcome.result });
        record(msg, outcome, { decision: "ignore" });
        msg.ack();
        return;
    }
  };
}
