import {
  type AttemptRecord,
  type AttemptResult,
  appendAttempt,
  type OutcomeMeta,
  type TaskMeta,
} from "@hookline/contracts";
import { isAttempt } from "../http/attempt";

/** What happened to one task in this pass, whether or not a request was made. */
export interface AttemptSummary {
  result: AttemptResult;
  /** Epoch ms when the pass started. */
  at: number;
  ms: number;
  status?: number | undefined;
  error?: string | undefined;
  retryAfterMs?: number | undefined;
}

/**
 * The outcome metadata: the task with its attempt counted (only when a request was made) and
 * the attempt appended to its history. `notBefore` is dropped: it belonged to the retry.
 */
export function outcomeFor(task: TaskMeta, summary: AttemptSummary): OutcomeMeta {
  const attempt = isAttempt(summary.result) ? task.attempt + 1 : task.attempt;
  const ms = Math.max(0, Math.round(summary.ms));
  const record: AttemptRecord = { n: attempt, at: summary.at, result: summary.result, ms };
  if (summary.status !== undefined) record.status = summary.status;
  if (summary.error !== undefined) record.error = summary.error;
  return {
    taskId: task.taskId,
    eventId: task.eventId,
    eventType: task.eventType,
    endpointId: task.endpointId,
    attempt,
    deferrals: task.deferrals,
    createdAt: task.createdAt,
    deadline: task.deadline,
    replayOf: task.replayOf,
    history: appendAttempt(task.history, record),
    result: summary.result,
    status: summary.status,
    error: summary.error,
    durationMs: ms,
    retryAfterMs: summary.retryAfterMs,
  };
}

/**
 * The outcome's Nats-Msg-Id: `<taskId>#<attempt>@<dispatchSeq>` for a request,
 * `<taskId>#<attempt>.<result>@<dispatchSeq>` for a pass that made none (endpoint missing or
 * disabled, circuit_open, rate_limited: they repeat at the same attempt count).
 *
 * The DISPATCH stream sequence makes it unique per task message, and it stays the same when
 * that message is redelivered, so a crash between publishing the outcome and acking the task
 * cannot produce a second outcome. Without it, a task that a DLQ replay resets to attempt 0
 * would reuse `<taskId>#1` inside the duplicate window and its outcome would be dropped as a
 * duplicate while the task was acked: a silent loss.
 */
export function outcomeMsgId(task: TaskMeta, result: AttemptResult, dispatchSeq: number): string {
  const pass = isAttempt(result) ? `${task.attempt + 1}` : `${task.attempt}.${result}`;
  return `${task.taskId}#${pass}@${dispatchSeq}`;
}
