import {
  attemptResults,
  DEFAULT_TENANT_ID,
  deadLetterReasons,
  decodeRecordBatch,
  ENDPOINT_ID_PATTERN,
  EVENT_ID_PATTERN,
  EVENT_TYPE_PATTERN,
  Header,
  HISTORY_LIMIT,
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
/** A header name the log reads, and its first bytes as little-endian words (names are ASCII). */
interface Name {
  text: string;
  words: number[];
  field: Field;
}
const LONGEST_NAME = Math.max(...headerOfField.map((name) => name.length));
/** A slot per name length and last character: at most two names share one. */
const slotOf = (length: number, last: number) => length * 128 + last;
const namesBySlot: (Name[] | undefined)[] = [];
headerOfField.forEach((text, field) => {
  const bytes = new DataView(new TextEncoder().encode(text).buffer);
  const words: number[] = [];
  for (let i = 0; i + 4 <= text.length; i += 4) words.push(bytes.getUint32(i, true));
  const slot = slotOf(text.length, text.charCodeAt(text.length - 1));
  const names = namesBySlot[slot] ?? [];
  names.push({ text, words, field: field as Field });
  namesBySlot[slot] = names;
});

const HEAD = "NATS/1.0\r\n";
/** The most digits of a count (within a Postgres `integer`) and of a time or a duration in ms. */
const COUNT_DIGITS = 9;
const EPOCH_MS_DIGITS = 15;
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
  // Each character decoded from one byte (ASCII, or a lone bad byte as U+FFFD) when the lengths
  // agree: byte i is then character i, and names are compared on the bytes, four at a time.
  const bytes =
    text.length === block.length
      ? new DataView(block.buffer, block.byteOffset, block.byteLength)
      : undefined;
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
      const field = fieldNamedAt(text, bytes, at, colon);
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

/** The field whose header is named text[from, to) (bytes: the text's, byte for character). */
function fieldNamedAt(
  text: string,
  bytes: DataView | undefined,
  from: number,
  to: number,
): Field | undefined {
  const length = to - from;
  const last = text.charCodeAt(to - 1);
  if (length > LONGEST_NAME || last > 127) return undefined;
  const names = namesBySlot[slotOf(length, last)];
  if (names === undefined) return undefined;
  for (const name of names) {
    let i = 0;
    if (bytes !== undefined) {
      for (const word of name.words) {
        if (bytes.getUint32(from + i, true) !== word) break;
        i += 4;
      }
    }
    while (i < length && text.charCodeAt(from + i) === name.text.charCodeAt(i)) i++;
    if (i === length) return name.field;
  }
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
  const attempt = digitsOf(found, Field.Attempt, COUNT_DIGITS);
  if (attempt === undefined || attempt < 0) return invalid(Field.Attempt);
  const deferrals = digitsOf(found, Field.Deferrals, COUNT_DIGITS);
  if (deferrals === undefined || deferrals < 0) return invalid(Field.Deferrals);
  const created = digitsOf(found, Field.CreatedAt, EPOCH_MS_DIGITS);
  if (created === undefined || created < 0) return invalid(Field.CreatedAt);
  const deadline = digitsOf(found, Field.Deadline, EPOCH_MS_DIGITS);
  if (deadline === undefined || deadline < 0) return invalid(Field.Deadline);
  const notBefore = digitsOf(found, Field.NotBefore, EPOCH_MS_DIGITS);
  if (notBefore !== undefined && notBefore < 0) return invalid(Field.NotBefore);
  const replayOf = present(found, Field.ReplayOf);
  if (replayOf !== undefined && replayOf.length > 100) return invalid(Field.ReplayOf);
  const result = present(found, Field.Result);
  if (result === undefined || !RESULTS.has(result)) return invalid(Field.Result);
  // 1 to 3 digits from 100 to 599: what /^[1-5]\d\d$/ accepts.
  const status = digitsOf(found, Field.Status, 3);
  if (status !== undefined && (status < 100 || status > 599)) return invalid(Field.Status);
  const error = present(found, Field.Error);
  if (error !== undefined && error.length > 200) return invalid(Field.Error);
  const duration = digitsOf(found, Field.DurationMs, EPOCH_MS_DIGITS);
  if (duration === undefined || duration < 0) return invalid(Field.DurationMs);
  const retryAfterMs = digitsOf(found, Field.RetryAfterMs, EPOCH_MS_DIGITS);
  if (retryAfterMs !== undefined && retryAfterMs < 0) return invalid(Field.RetryAfterMs);
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
  if (duration > INT4_MAX) return invalid(Field.DurationMs, "out of range");
  const nextAttemptAt = decision === "retry" && notBefore !== undefined ? notBefore : null;
  if (
    attemptedAt >= TIME_LIMIT_MS ||
    created >= TIME_LIMIT_MS ||
    (nextAttemptAt !== null && nextAttemptAt >= TIME_LIMIT_MS)
  ) {
    return { ok: false, error: "a time past the year 9999" };
  }

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
        attempt,
        result,
        status: status ?? null,
        error: error ?? null,
        response_body: responseBody ?? (result === "http_error" ? (error ?? null) : null),
        duration_ms: duration,
        replay_of: replayOf ?? null,
        decision: decision ?? null,
        next_attempt_at: nextAttemptAt === null ? null : new Date(nextAttemptAt),
        reason: reason ?? null,
        event_created_at: new Date(created),
      },
      body: attempt <= 1 && data.length > 0 ? data : undefined,
    },
  };
}

const hasNul = (text: string | undefined) => text?.includes("\0") === true;

/**
 * A header's value as a test of /^\d{1,most}$/ and Number() read it, in one pass (those two cost
 * several times more on a 13-digit time); exact, `most` being at most 15. Undefined when absent
 * ("" too), -1 when not such digits.
 */
function digitsOf(found: HeaderValues, field: Field, most: number): number | undefined {
  const text = present(found, field);
  return text === undefined ? undefined : digitsIn(text, 0, text.length, most);
}

/** text[from, to) as a number if it is 1 to `most` ASCII digits, else -1. */
function digitsIn(text: string, from: number, to: number, most: number): number {
  if (to <= from || to - from > most) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** A JSON integer of at most 15 digits: a safe integer, at least 0. */
const INT = "(?:0|[1-9]\\d{0,14})";
const STATUS = ',"status":[1-5]\\d\\d';
/** At most 200 characters and no escapes. */
const ERROR = ',"error":"[^"\\\\\\x00-\\x1f]{0,200}"';
/** Finite, at least 0. */
const MS = `,"ms":${INT}(?:\\.\\d{1,17})?`;
/**
 * One attempt as JSON.stringify writes the record delivery makes (outcome.ts: n, at, result, ms,
 * status?, error?) or one in the schema's order (ms last), each value one the history schema
 * accepts.
 */
const ATTEMPT =
  `\\{"n":${INT},"at":${INT},"result":"(?:${attemptResults.join("|")})"` +
  `(?:${MS}(?:${STATUS})?(?:${ERROR})?|(?:${STATUS})?(?:${ERROR})?${MS})\\}`;
const WRITTEN_HISTORY = new RegExp(`^\\[(?:${ATTEMPT},){0,${HISTORY_LIMIT - 1}}${ATTEMPT}\\]$`);
const AT_KEY = '"at":';

/** The `at` of the history's last attempt if contracts' schema accepts it; "none" for []. */
function lastAttemptAt(text: string): number | "none" | undefined {
  // A history as delivery writes it, which readHistoryText accepts, without JSON.parse: its
  // last "at" key is the last attempt's (no string in it holds a quote), its value digits up to
  // the comma. Any other text (spaces, escapes, other keys, []) goes to readHistoryText.
  if (WRITTEN_HISTORY.test(text)) {
    const from = text.lastIndexOf(AT_KEY) + AT_KEY.length;
    return digitsIn(text, from, text.indexOf(",", from), EPOCH_MS_DIGITS);
  }
  const history = readHistoryText(text);
  if (history === undefined) return undefined;
  const last = history[history.length - 1];
  return last === undefined ? "none" : last.at;
}
