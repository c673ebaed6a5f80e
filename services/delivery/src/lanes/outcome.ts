import {
  type AttemptRecord,
  type AttemptResult,
  appendAttempt,
  Header,
  HISTORY_LIMIT,
  headerSafe,
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
  /** The start of the endpoint's answer, one line; absent when it sent none. */
  responseBody?: string | undefined;
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
    tenantId: task.tenantId,
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
    responseBody: summary.responseBody,
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

const encoder = new TextEncoder();

/** As nats.js sets a header value: no line breaks, trimmed. */
function headerValue(value: string): string {
  if (value.includes("\r") || value.includes("\n")) {
    throw new Error("header values cannot contain \\r or \\n");
  }
  return value.trim();
}

/**
 * The bytes `encodeOutcome(meta, msgId).encode()` gives (the tests hold them equal), written in
 * one string: building a MsgHdrs header by header (each set() validates and scans the keys)
 * was a tenth of delivery's CPU when every success published its audit outcome this way.
 */
export function encodeOutcomeHeaders(meta: OutcomeMeta, msgId: string): Uint8Array {
  let text = `NATS/1.0\r\n${Header.msgId}: ${headerValue(msgId)}`;
  text += `\r\n${Header.taskId}: ${headerValue(meta.taskId)}`;
  text += `\r\n${Header.eventId}: ${headerValue(meta.eventId)}`;
  text += `\r\n${Header.eventType}: ${headerValue(meta.eventType)}`;
  text += `\r\n${Header.endpointId}: ${headerValue(meta.endpointId)}`;
  if (meta.tenantId !== undefined) text += `\r\n${Header.tenantId}: ${headerValue(meta.tenantId)}`;
  text += `\r\n${Header.attempt}: ${meta.attempt}`;
  text += `\r\n${Header.deferrals}: ${meta.deferrals}`;
  text += `\r\n${Header.createdAt}: ${meta.createdAt}`;
  text += `\r\n${Header.deadline}: ${meta.deadline}`;
  if (meta.notBefore !== undefined) text += `\r\n${Header.notBefore}: ${meta.notBefore}`;
  if (meta.history !== undefined && meta.history.length > 0) {
    const history = JSON.stringify(meta.history.slice(-HISTORY_LIMIT));
    text += `\r\n${Header.history}: ${headerValue(history)}`;
  }
  if (meta.replayOf !== undefined) text += `\r\n${Header.replayOf}: ${headerValue(meta.replayOf)}`;
  text += `\r\n${Header.result}: ${headerValue(meta.result)}`;
  if (meta.status !== undefined) text += `\r\n${Header.status}: ${meta.status}`;
  if (meta.error !== undefined) {
    text += `\r\n${Header.error}: ${headerValue(headerSafe(meta.error))}`;
  }
  text += `\r\n${Header.durationMs}: ${Math.round(meta.durationMs)}`;
  if (meta.retryAfterMs !== undefined) {
    text += `\r\n${Header.retryAfterMs}: ${meta.retryAfterMs}`;
  }
  if (meta.responseBody !== undefined) {
    text += `\r\n${Header.responseBody}: ${headerValue(meta.responseBody)}`;
  }
  return encoder.encode(`${text}\r\n\r\n`);
}
