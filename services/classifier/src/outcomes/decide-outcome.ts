import type { DeadLetterMeta, DeadLetterReason, OutcomeMeta, TaskMeta } from "@hookline/contracts";
import { classifyAttempt } from "../classification/classify-attempt";
import {
  planAttemptRetry,
  planDeferral,
  type RandomSource,
  type RetryPlan,
  type RetryPolicy,
} from "../scheduling/retry-plan";
import type { RetryBackoff } from "../scheduling/retry-strategies";
import type { RetryTier } from "../scheduling/retry-tiers";

export type OutcomeDecision =
  /** Publish `task` to `retry.<tier>.<ep>`; `kind` says whether it used an attempt. */
  | {
      action: "retry";
      kind: "attempt" | "deferral";
      task: RetryTask;
      tier: RetryTier;
      delayMs: number;
    }
  | { action: "deadletter"; reason: DeadLetterReason }
  /** 410 Gone: disable the endpoint, then dead-letter as `endpoint_gone`. */
  | { action: "disable_endpoint"; reason: "endpoint_gone" }
  /** A success arrived on the failure subject: nothing to retry, nothing lost. */
  | { action: "ignore" };

/** A task waiting in a retry tier: it always says when it is due. */
export type RetryTask = TaskMeta & { notBefore: number };

/** The task as it waits for its next try: history kept, deferrals counted, due time set. */
function retryTask(outcome: OutcomeMeta, deferrals: number, notBefore: number): RetryTask {
  return {
    taskId: outcome.taskId,
    eventId: outcome.eventId,
    eventType: outcome.eventType,
    endpointId: outcome.endpointId,
    tenantId: outcome.tenantId,
    attempt: outcome.attempt,
    deferrals,
    createdAt: outcome.createdAt,
    deadline: outcome.deadline,
    notBefore,
    history: outcome.history,
    replayOf: outcome.replayOf,
  };
}

/**
 * The dead letter of a failed pass: the task's fields (the attempt just made in its history),
 * without the pass's own result fields, which a dead letter's headers do not carry.
 */
export function deadLetterOfOutcome(
  outcome: OutcomeMeta,
  reason: DeadLetterReason,
): DeadLetterMeta {
  return {
    taskId: outcome.taskId,
    eventId: outcome.eventId,
    eventType: outcome.eventType,
    endpointId: outcome.endpointId,
    tenantId: outcome.tenantId,
    attempt: outcome.attempt,
    deferrals: outcome.deferrals,
    createdAt: outcome.createdAt,
    deadline: outcome.deadline,
    history: outcome.history,
    replayOf: outcome.replayOf,
    reason,
  };
}

function fromPlan(
  plan: RetryPlan,
  outcome: OutcomeMeta,
  kind: "attempt" | "deferral",
): OutcomeDecision {
  if (plan.outcome !== "scheduled") return { action: "deadletter", reason: plan.outcome };
  const deferrals = kind === "deferral" ? outcome.deferrals + 1 : outcome.deferrals;
  return {
    action: "retry",
    kind,
    task: retryTask(outcome, deferrals, plan.notBefore),
    tier: plan.tier,
    delayMs: plan.delayMs,
  };
}

/**
 * What to do with one failed pass: retry it (in which tier, due when), dead-letter it (why),
 * or disable its endpoint. `backoff` is the endpoint's own retry policy or the default.
 */
export function decideOutcome(
  outcome: OutcomeMeta,
  backoff: RetryBackoff,
  policy: RetryPolicy,
  now: number,
  random: RandomSource,
): OutcomeDecision {
  const classification = classifyAttempt(outcome);
  switch (classification.decision) {
    case "retry":
      return fromPlan(
        planAttemptRetry(
          {
            attempt: outcome.attempt,
            deadline: outcome.deadline,
            floor: classification.floor,
            retryAfterMs: outcome.retryAfterMs,
          },
          backoff,
          policy,
          now,
          random,
        ),
        outcome,
        "attempt",
      );
    case "defer":
      return fromPlan(planDeferral(outcome, policy, now, random), outcome, "deferral");
    case "deadletter":
      return { action: "deadletter", reason: classification.reason };
    case "gone":
      return { action: "disable_endpoint", reason: "endpoint_gone" };
    case "delivered":
      return { action: "ignore" };
  }
}
