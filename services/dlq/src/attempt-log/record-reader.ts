import {
  attemptResults,
  DEFAULT_TENANT_ID,
  deadLetterReasons,
  decodeRecordBatch,
  ENDPOINT_ID_PATTERN,
  EVENT_ID_PATTERN,
  EVENT_TYPE_PATTERN,
  Header,
  isTenantId,
  RESPONSE_BODY_LIMIT,
  readHistoryText,
  recordCount,
} from "@hookline/contracts";
import { rawHeaderBytes } from "@hookline/kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { NewAttemptRow } from "../db/schema";

/** One record of ATTEMPTS as the log stores it: its row, and the event's body if it has one. */
export interface LoggedRecord {
  row: NewAttemptRow;
  /** The webhook body: on a task's (or replay's) first attempt, when the record carries one. */
  body: Uint8Array | undefined;
}

export type ReadRecord = { ok: true; record: LoggedRecord } | { ok: false; error: string };

/**
 * Header values by field, first value wins, "" as absent: what contracts' decodeLoggedAttempt
 * reads through MsgHdrs.get, without building a MsgHdrs.
 */
const Field = {
  MsgId: 0,
  TaskId: 1,
  EventId: 2,
  EventType: 3,
  EndpointId: 4,
  TenantId: 5,
  Attempt: 6,
  Deferrals: 7,
  CreatedAt: 8,
  Deadline: 9,
  NotBefore: 10,
  History: 11,
  ReplayOf: 12,
  Result: 13,
  Status: 14,
  Error: 15,
  DurationMs: 16,
  RetryAfterMs: 17,
  ResponseBody: 18,
  Decision: 19,
  Reason: 20,
  /** A record batch's count (contracts' record-batch.ts). */
  Records: 21,
} as const;
type Field = (typeof Field)[keyof typeof Field];
const FIELDS = 22;
export type HeaderValues = (string | undefined)[];

const headerOfField: readonly string[] = [
  Header.msgId,
  Header.taskId,
  Header.eventId,
  Header.eventType,
  Header.endpointId,
  Header.tenantId,
  Header.attempt,
  Header.deferrals,
  Header.createdAt,
  Header.deadline,
  Header.notBefore,
  Header.history,
  Header.replayOf,
  Header.result,
  Header.status,
  Header.error,
  Header.durationMs,
  Header.retryAfterMs,
  Header.responseBody,
  Header.decision,
  Header.reason,
  Header.records,
];
/** The fields by the length of their header's name: a line's name is compared in place. */
const fieldsByNameLength: ([string, Field][] | undefined)[] = [];
headerOfField.forEach((name, field) => {
  const fields = fieldsByNameLength[name.length] ?? [];
  fields.push([name, field as Field]);
  fieldsByNameLength[name.length] = fields;
});

const HEAD = "NATS/1.0\r\n";
const COUNT = /^\d{1,9}$/;
const EPOCH_MS = /^\d{1,15}$/;
const HTTP_STATUS = /^[1-5]\d\d$/;
const RESULTS: ReadonlySet<string> = new Set(attemptResults);
const REASONS: ReadonlySet<string> = new Set(deadLetterReasons);
const DECISIONS: ReadonlySet<string> = new Set(["retry", "deadletter", "ignore"]);
/** Postgres `integer`. */
const INT4_MAX = 2_147_483_647;
/** 10000-01-01: partitions are named by a four-digit year. */
const TIME_LIMIT_MS = 253_402_300_800_000;

const utf8 = new TextDecoder();
const LF = 10;

/**
 * The values of a header block as nats.js would read them (lines split on CRLF, the name before
 * the first colon, the value after it trimmed, the first of repeated names), for the fields the
 * log reads; undefined where nats.js would do something else (a status line, a name or a value
 * it refuses), and the caller then asks nats.js.
 */
export function valuesOfBlock(block: Uint8Array): HeaderValues | undefined {
  const text = utf8.decode(block);
  if (!text.startsWith(HEAD)) return undefined;
  const values: HeaderValues = new Array(FIELDS);
  const end = text.length;
  let at = HEAD.length;
  while (at < end) {
    // Lines end at CRLF; a lone CR or LF would be inside a value, which nats.js refuses.
    let eol = text.indexOf("\r", at);
    if (eol < 0) eol = end;
    else if (text.charCodeAt(eol + 1) !== LF) return undefined;
    const lf = text.indexOf("\n", at);
    if (lf >= 0 && lf < eol) return undefined;
    const colon = text.indexOf(":", at);
    if (colon >= at && colon < eol) {
      const field = fieldNamedAt(text, at, colon);
      if (field === undefined) {
        // Another header: nats.js refuses some names, and then the whole block.
        for (let i = at; i < colon; i++) {
          const c = text.charCodeAt(i);
          if (c < 33 || c > 126) return undefined;
        }
      } else if (values[field] === undefined) {
        values[field] = trimmedSlice(text, colon + 1, eol);
      }
    }
    at = eol + 2;
  }
  return values;
}

/** The field whose header is named text[from, to), without slicing the name out. */
function fieldNamedAt(text: string, from: number, to: number): Field | undefined {
  const fields = fieldsByNameLength[to - from];
  if (fields === undefined) return undefined;
  for (const [name, field] of fields) if (text.startsWith(name, from)) return field;
  return undefined;
}

/** text.slice(from, to).trim() in one slice when only spaces surround the value. */
function trimmedSlice(text: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && text.charCodeAt(start) === 32) start++;
  while (end > start && text.charCodeAt(end - 1) === 32) end--;
  const value = text.slice(start, end);
  if (start === end) return value;
  // Tabs, other controls and Unicode white space: trim()'s own rules.
  const first = text.charCodeAt(start);
  const last = text.charCodeAt(end - 1);
  return first < 33 || first > 126 || last < 33 || last > 126 ? value.trim() : value;
}

/** The same values through nats.js's MsgHdrs (messages whose bytes are not at hand). */
export function valuesOfHeaders(h: MsgHdrs): HeaderValues {
  const values: HeaderValues = new Array(FIELDS);
  for (let field = 0; field < FIELDS; field++)
    values[field] = h.get(headerOfField[field] as string);
  return values;
}

/** The records of a pulled ATTEMPTS message, and what could not be read in it. */
export interface ReadRecords {
  records: LoggedRecord[];
  errors: string[];
}

/**
 * A pulled ATTEMPTS message's records, read from header bytes where nats.js keeps them: one,
 * or a record batch's (delivery's success records of a write turn).
 */
export function readRecordsOfMessage(msg: JsMsg): ReadRecords {
  const block = rawHeaderBytes(msg);
  let values = block === undefined ? undefined : valuesOfBlock(block);
  if (values === undefined) {
    try {
      const h = msg.headers;
      if (h === undefined) return { records: [], errors: ["the message has no headers"] };
      values = valuesOfHeaders(h);
    } catch (error) {
      return { records: [], errors: [`unreadable headers: ${String(error)}`] };
    }
  }
  const records = values[Field.Records];
  if (records !== undefined) return readBatch(records, msg.data);
  const read = readRecord(values, msg.data);
  return read.ok ? { records: [read.record], errors: [] } : { records: [], errors: [read.error] };
}

function readBatch(countValue: string, data: Uint8Array): ReadRecords {
  const count = recordCount(countValue);
  if (count === undefined) return { records: [], errors: [`${Header.records}: invalid`] };
  const batch = decodeRecordBatch(data, count);
  if (!batch.ok) return { records: [], errors: [batch.error] };
  const read: ReadRecords = { records: [], errors: [] };
  batch.frames.forEach((frame, i) => {
    const values = valuesOfBlock(frame.headers);
    const record =
      values === undefined
        ? ({ ok: false, error: "unreadable header block" } as const)
        : readRecord(values, frame.data);
    if (record.ok) read.records.push(record.record);
    else read.errors.push(`record ${i + 1} of ${count}: ${record.error}`);
  });
  return read;
}

/** A header's value, "" as absent. */
const present = (found: HeaderValues, field: Field) => {
  const value = found[field];
  return value === "" ? undefined : value;
};

const invalid = (field: Field, problem = "invalid"): ReadRecord => ({
  ok: false,
  error: `${headerOfField[field]}: ${problem}`,
});

/**
 * The record's row: exactly what contracts' decodeLoggedAttempt accepts, with the same values
 * (record-reader.test.ts compares the two on a table of samples), and more strictly what the log
 * needs: a Nats-Msg-Id (the row's key), an attempt in Hookline-History (its time), values
 * Postgres takes. By hand because zod per record was most of this path's CPU.
 */
export function readRecord(found: HeaderValues, data: Uint8Array): ReadRecord {
  const msgId = present(found, Field.MsgId);
  if (msgId === undefined) return invalid(Field.MsgId, "missing");
  const taskId = present(found, Field.TaskId);
  if (taskId === undefined || taskId.length < 3 || taskId.length > 200) {
    return invalid(Field.TaskId);
  }
  const eventId = present(found, Field.EventId);
  if (eventId === undefined || !EVENT_ID_PATTERN.test(eventId)) return invalid(Field.EventId);
  const eventType = present(found, Field.EventType);
  if (eventType === undefined || !EVENT_TYPE_PATTERN.test(eventType)) {
    return invalid(Field.EventType);
  }
  const endpointId = present(found, Field.EndpointId);
  if (endpointId === undefined || !ENDPOINT_ID_PATTERN.test(endpointId)) {
    return invalid(Field.EndpointId);
  }
  const tenantId = present(found, Field.TenantId);
  if (tenantId !== undefined && !isTenantId(tenantId)) return invalid(Field.TenantId);
  const attempt = present(found, Field.Attempt);
  if (attempt === undefined || !COUNT.test(attempt)) return invalid(Field.Attempt);
  const deferrals = present(found, Field.Deferrals);
  if (deferrals === undefined || !COUNT.test(deferrals)) return invalid(Field.Deferrals);
  const createdAt = present(found, Field.CreatedAt);
  if (createdAt === undefined || !EPOCH_MS.test(createdAt)) return invalid(Field.CreatedAt);
  const deadline = present(found, Field.Deadline);
  if (deadline === undefined || !EPOCH_MS.test(deadline)) return invalid(Field.Deadline);
  const notBefore = present(found, Field.NotBefore);
  if (notBefore !== undefined && !EPOCH_MS.test(notBefore)) return invalid(Field.NotBefore);
  const replayOf = present(found, Field.ReplayOf);
  if (replayOf !== undefined && replayOf.length > 100) return invalid(Field.ReplayOf);
  const result = present(found, Field.Result);
  if (result === undefined || !RESULTS.has(result)) return invalid(Field.Result);
  const status = present(found, Field.Status);
  if (status !== undefined && !HTTP_STATUS.test(status)) return invalid(Field.Status);
  const error = present(found, Field.Error);
  if (error !== undefined && error.length > 200) return invalid(Field.Error);
  const durationMs = present(found, Field.DurationMs);
  if (durationMs === undefined || !EPOCH_MS.test(durationMs)) return invalid(Field.DurationMs);
  const retryAfterMs = present(found, Field.RetryAfterMs);
  if (retryAfterMs !== undefined && !EPOCH_MS.test(retryAfterMs)) {
    return invalid(Field.RetryAfterMs);
  }
  const responseBody = present(found, Field.ResponseBody);
  if (responseBody !== undefined && responseBody.length > RESPONSE_BODY_LIMIT) {
    return invalid(Field.ResponseBody);
  }
  const decision = present(found, Field.Decision);
  if (decision !== undefined && !DECISIONS.has(decision)) return invalid(Field.Decision);
  const reason = present(found, Field.Reason);
  if (reason !== undefined && !REASONS.has(reason)) return invalid(Field.Reason);
  const history = present(found, Field.History);
  if (history === undefined) return invalid(Field.History, "missing");
  const attemptedAt = lastAttemptAt(history);
  if (attemptedAt === undefined) return invalid(Field.History);
  if (attemptedAt === "none") return invalid(Field.History, "no attempt");

  // Beyond the contract: what the row's columns hold. Postgres text takes no NUL (the other
  // text columns are patterns or enums).
  if (
    hasNul(msgId) ||
    hasNul(taskId) ||
    hasNul(error) ||
    hasNul(responseBody) ||
    hasNul(replayOf)
  ) {
    return { ok: false, error: "a header holds a NUL character" };
  }
  const duration = Number(durationMs);
  if (duration > INT4_MAX) return invalid(Field.DurationMs, "out of range");
  const created = Number(createdAt);
  const nextAttemptAt = decision === "retry" && notBefore !== undefined ? Number(notBefore) : null;
  if (
    attemptedAt >= TIME_LIMIT_MS ||
    created >= TIME_LIMIT_MS ||
    (nextAttemptAt !== null && nextAttemptAt >= TIME_LIMIT_MS)
  ) {
    return { ok: false, error: "a time past the year 9999" };
  }

  const attemptNumber = Number(attempt);
  return {
    ok: true,
    record: {
      row: {
        attempted_at: new Date(attemptedAt),
        attempt_id: msgId,
        tenant_id: tenantId ?? DEFAULT_TENANT_ID,
        event_id: eventId,
        event_type: eventType,
        endpoint_id: endpointId,
        task_id: taskId,
        attempt: attemptNumber,
        result,
        status: status === undefined ? null : Number(status),
        error: error ?? null,
        response_body: responseBody ?? (result === "http_error" ? (error ?? null) : null),
        duration_ms: duration,
        replay_of: replayOf ?? null,
        decision: decision ?? null,
        next_attempt_at: nextAttemptAt === null ? null : new Date(nextAttemptAt),
        reason: reason ?? null,
        event_created_at: new Date(created),
      },
      body: attemptNumber <= 1 && data.length > 0 ? data : undefined,
    },
  };
}

const hasNul = (text: string | undefined) => text?.includes("\0") === true;

/** The `at` of the history's last attempt if contracts' schema accepts it; "none" for []. */
function lastAttemptAt(text: string): number | "none" | undefined {
  const history = readHistoryText(text);
  if (history === undefined) return undefined;
  const last = history[history.length - 1];
  return last === undefined ? "none" : last.at;
}
