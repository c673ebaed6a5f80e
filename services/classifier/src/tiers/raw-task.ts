import {
  ENDPOINT_ID_PATTERN,
  EVENT_ID_PATTERN,
  EVENT_TYPE_PATTERN,
  Header,
  isTenantId,
  readHistoryText,
} from "@hookline/contracts";

/**
 * What releasing a waiting retry needs of its task, read straight from the message's header
 * bytes: decodeTask (zod over a MsgHdrs that nats.js builds name by name) and encodeTask (a new
 * MsgHdrs, encoded again) were most of the classifier's CPU and garbage per released retry.
 * The rest of the block goes on as it is; only the Nats-Msg-Id line is replaced.
 */
export interface RawTask {
  taskId: string;
  endpointId: string;
  attempt: number;
  deferrals: number;
  notBefore: number | undefined;
  /** The header block without its Nats-Msg-Id line: `\r\nName: value` lines, then `\r\n\r\n`. */
  rest: string;
}

const HEAD = "NATS/1.0\r\n";
const COUNT = /^\d{1,9}$/;
const EPOCH_MS = /^\d{1,15}$/;

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
} as const;
type Field = (typeof Field)[keyof typeof Field];
const FIELDS = 13;

/** The only header names a task may carry here; any other sends it down the decodeTask path. */
const fieldByName = new Map<string, Field>([
  [Header.msgId, Field.MsgId],
  [Header.taskId, Field.TaskId],
  [Header.eventId, Field.EventId],
  [Header.eventType, Field.EventType],
  [Header.endpointId, Field.EndpointId],
  [Header.tenantId, Field.TenantId],
  [Header.attempt, Field.Attempt],
  [Header.deferrals, Field.Deferrals],
  [Header.createdAt, Field.CreatedAt],
  [Header.deadline, Field.Deadline],
  [Header.notBefore, Field.NotBefore],
  [Header.history, Field.History],
  [Header.replayOf, Field.ReplayOf],
]);

const utf8 = new TextDecoder();

/**
 * The task in a header block, if it is one decodeTask accepts and holds nothing but a task's
 * headers, each once, in the form encodeTask writes; otherwise undefined, and the caller takes
 * the decodeTask path (which dead-letters what is invalid). Only ever accepts what decodeTask
 * accepts, with the same values.
 */
export function readRawTask(bytes: Uint8Array): RawTask | undefined {
  const text = utf8.decode(bytes);
  if (!text.startsWith(HEAD) || !text.endsWith("\r\n\r\n")) return undefined;
  const values: (string | undefined)[] = new Array(FIELDS);
  let msgIdFrom = -1; // the line's leading \r\n ...
  let msgIdTo = -1; // ... to the next one
  let at = HEAD.length;
  const end = text.length - 2; // the blank line
  while (at < end) {
    const eol = text.indexOf("\r\n", at);
    if (eol < 0 || eol > end) return undefined;
    const colon = text.indexOf(":", at);
    if (colon < at || colon > eol) return undefined;
    const field = fieldByName.get(text.slice(at, colon));
    if (field === undefined || values[field] !== undefined) return undefined;
    const value = text.slice(colon + 1, eol).trim();
    // Empty values read as absent, lone CR/LF nats.js refuses: both are decodeTask's to judge.
    if (value === "" || value.includes("\r") || value.includes("\n")) return undefined;
    values[field] = value;
    if (field === Field.MsgId) {
      msgIdFrom = at - 2;
      msgIdTo = eol;
    }
    at = eol + 2;
  }
  if (at !== end) return undefined;

  const taskId = values[Field.TaskId];
  const eventId = values[Field.EventId];
  const eventType = values[Field.EventType];
  const endpointId = values[Field.EndpointId];
  const tenantId = values[Field.TenantId];
  const attempt = values[Field.Attempt];
  const deferrals = values[Field.Deferrals];
  const createdAt = values[Field.CreatedAt];
  const deadline = values[Field.Deadline];
  const notBefore = values[Field.NotBefore];
  const history = values[Field.History];
  const replayOf = values[Field.ReplayOf];
  if (
    taskId === undefined ||
    taskId.length < 3 ||
    taskId.length > 200 ||
    eventId === undefined ||
    !EVENT_ID_PATTERN.test(eventId) ||
    eventType === undefined ||
    !EVENT_TYPE_PATTERN.test(eventType) ||
    endpointId === undefined ||
    !ENDPOINT_ID_PATTERN.test(endpointId) ||
    (tenantId !== undefined && !isTenantId(tenantId)) ||
    attempt === undefined ||
    !COUNT.test(attempt) ||
    deferrals === undefined ||
    !COUNT.test(deferrals) ||
    createdAt === undefined ||
    !EPOCH_MS.test(createdAt) ||
    deadline === undefined ||
    !EPOCH_MS.test(deadline) ||
    (notBefore !== undefined && !EPOCH_MS.test(notBefore)) ||
    (replayOf !== undefined && replayOf.length > 100) ||
    // Exact keys: the text goes on as it is, and must be what encodeTask writes.
    (history !== undefined && readHistoryText(history, { exactKeys: true }) === undefined)
  ) {
    return undefined;
  }
  const rest =
    msgIdFrom < 0
      ? text.slice(HEAD.length - 2)
      : text.slice(HEAD.length - 2, msgIdFrom) + text.slice(msgIdTo);
  return {
    taskId,
    endpointId,
    attempt: Number(attempt),
    deferrals: Number(deferrals),
    notBefore: notBefore === undefined ? undefined : Number(notBefore),
    rest,
  };
}

/** The block to publish: the same headers, with `msgId` as Nats-Msg-Id. */
export function rawTaskBlock(task: RawTask, msgId: string): Uint8Array {
  return Buffer.from(`NATS/1.0\r\n${Header.msgId}: ${msgId}${task.rest}`, "utf8");
}
