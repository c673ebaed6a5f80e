import {
  type ClassifiedOutcomeMeta,
  DEFAULT_TENANT_ID,
  decodeLoggedAttempt,
  encodeClassifiedOutcome,
  encodeOutcome,
  Header,
  type OutcomeMeta,
} from "@hookline/contracts";
import { type MsgHdrs, MsgHdrsImpl } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type LoggedRecord,
  type ReadRecord,
  readRecord,
  valuesOfBlock,
  valuesOfHeaders,
} from "./record-reader";

const endpointId = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0001";
const createdAt = 1_735_732_800_000;
const body = Buffer.from('{"type":"order.created","data":{"id":1}}');

const delivered: OutcomeMeta = {
  taskId: `evt_1:${endpointId}`,
  eventId: "evt_1",
  eventType: "order.created",
  endpointId,
  tenantId: "acme",
  attempt: 1,
  deferrals: 0,
  createdAt,
  deadline: createdAt + 3 * 86_400_000,
  history: [{ n: 1, at: createdAt + 150, result: "delivered", status: 200, ms: 31 }],
  result: "delivered",
  status: 200,
  durationMs: 31,
  responseBody: '{"ok":true}',
};
const failedHistory = [
  { n: 1, at: createdAt + 100, result: "http_error" as const, status: 500, ms: 12 },
  { n: 2, at: createdAt + 5_100, result: "http_error" as const, status: 503, ms: 9 },
];
const retried: ClassifiedOutcomeMeta = {
  ...delivered,
  attempt: 2,
  history: failedHistory,
  result: "http_error",
  status: 503,
  error: "HTTP 503: upstream down",
  durationMs: 9,
  responseBody: undefined,
  decision: "retry",
  notBefore: createdAt + 35_100,
};
const msgId = `${delivered.taskId}#1@7`;

const encoded = (h: MsgHdrs): Uint8Array => (h as MsgHdrsImpl).encode();
const outcome = (meta: OutcomeMeta, id = msgId) => encoded(encodeOutcome(meta, id));
const classified = (meta: ClassifiedOutcomeMeta, id = msgId) =>
  encoded(encodeClassifiedOutcome(meta, id));
/** A block with one header changed (or removed, for undefined) after encoding. */
const withHeader = (bytes: Uint8Array, name: string, value: string | undefined) => {
  const h = MsgHdrsImpl.decode(bytes);
  if (value === undefined) h.delete(name);
  else h.set(name, value);
  return encoded(h);
};
const raw = (lines: string[]) => Buffer.from(`NATS/1.0\r\n${lines.join("\r\n")}\r\n\r\n`);
/** A block with `bytes` as a first header's value, before the others. */
const leadingValue = (bytes: Uint8Array, block = outcome(delivered)) =>
  Buffer.concat([Buffer.from("NATS/1.0\r\nX-Note: "), bytes, Buffer.from(block).subarray(8)]);
type HistoryRecord = Record<string, unknown>;
/** An attempt's keys in the order delivery's outcomeFor writes them: ms before status and error. */
const deliveryOrder = ({ n, at, result, ms, status, error, ...rest }: HistoryRecord) => ({
  n,
  at,
  result,
  ms,
  ...(status === undefined ? {} : { status }),
  ...(error === undefined ? {} : { error }),
  ...rest,
});
const withHistory = (history: readonly HistoryRecord[], bytes = classified(retried)) =>
  withHeader(bytes, Header.history, JSON.stringify(history));

/** The reference: contracts' zod decoder, mapped to a row as the log defines it. */
function expectedRecord(bytes: Uint8Array, data: Uint8Array): LoggedRecord | undefined {
  const h = MsgHdrsImpl.decode(bytes);
  const decoded = decodeLoggedAttempt(h);
  if (!decoded.ok) return undefined;
  const meta = decoded.value;
  const last = meta.history[meta.history.length - 1];
  if (last === undefined) throw new Error("sample without an attempt: list it as reader-only");
  return {
    row: {
      attempted_at: new Date(last.at),
      attempt_id: h.get(Header.msgId),
      tenant_id: meta.tenantId ?? DEFAULT_TENANT_ID,
      event_id: meta.eventId,
      event_type: meta.eventType,
      endpoint_id: meta.endpointId,
      task_id: meta.taskId,
      attempt: meta.attempt,
      result: meta.result,
      status: meta.status ?? null,
      error: meta.error ?? null,
      response_body:
        meta.responseBody ?? (meta.result === "http_error" ? (meta.error ?? null) : null),
      duration_ms: meta.durationMs,
      replay_of: meta.replayOf ?? null,
      decision: meta.decision ?? null,
      next_attempt_at:
        meta.decision === "retry" && meta.notBefore !== undefined ? new Date(meta.notBefore) : null,
      reason: meta.reason ?? null,
      event_created_at: new Date(meta.createdAt),
    },
    body: meta.attempt <= 1 && data.length > 0 ? data : undefined,
  };
}

/** Both ways the reader reads: the bytes (or nats.js when it declines them), and MsgHdrs. */
function readBoth(bytes: Uint8Array, data: Uint8Array): ReadRecord {
  const h = MsgHdrsImpl.decode(bytes);
  const fromBlock = readRecord(valuesOfBlock(bytes) ?? valuesOfHeaders(h), data);
  const fromHeaders = readRecord(valuesOfHeaders(h), data);
  expect(fromHeaders).toEqual(fromBlock);
  return fromBlock;
}

function expectSameAsContracts(bytes: Uint8Array, data: Uint8Array = body) {
  const expected = expectedRecord(bytes, data);
  const read = readBoth(bytes, data);
  if (expected === undefined) expect(read.ok).toBe(false);
  else expect(read).toEqual({ ok: true, record: expected });
  return read;
}

const valid: [string, Uint8Array, Uint8Array?][] = [
  ["a first attempt's success, with its body", outcome(delivered)],
  ["a later success: no body", outcome({ ...delivered, attempt: 3, history: failedHistory })],
  ["a first attempt without data", outcome(delivered), Buffer.alloc(0)],
  ["no tenant: the default one", outcome({ ...delivered, tenantId: undefined })],
  ["a retry: not-before as next attempt, the error as response body", classified(retried)],
  [
    "an http_error's own response body",
    classified({ ...retried, responseBody: "Service Unavailable" }),
  ],
  [
    "a dead letter of a replay",
    classified({
      ...retried,
      attempt: 8,
      decision: "deadletter",
      reason: "exhausted",
      notBefore: undefined,
      replayOf: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0001",
    }),
  ],
  [
    "a dead letter with a not-before: no next attempt",
    classified({ ...retried, decision: "deadletter", reason: "non_retryable" }),
  ],
  ["ignored", classified({ ...retried, decision: "ignore", notBefore: undefined })],
  [
    "a timeout: no status, no response body",
    classified({
      ...retried,
      result: "timeout",
      status: undefined,
      error: "timed out after 10000 ms",
      retryAfterMs: 2_000,
    }),
  ],
  ["a retry without not-before", classified({ ...retried, notBefore: undefined })],
  [
    "ten attempts of history, unknown keys in one",
    withHeader(
      classified({ ...retried, attempt: 10 }),
      Header.history,
      JSON.stringify(
        Array.from({ length: 10 }, (_, i) => ({
          n: i + 1,
          at: createdAt + i * 1_000,
          result: "timeout",
          error: "ünïcode",
          ms: 10_000.5,
          ...(i === 9 ? { extra: true } : {}),
        })),
      ),
    ),
  ],
  [
    "a history in delivery's key order, with errors",
    withHistory(failedHistory.map((r) => deliveryOrder({ ...r, error: `HTTP ${r.status}` }))),
  ],
  [
    "ten attempts in delivery's key order",
    withHistory(
      Array.from({ length: 10 }, (_, i) =>
        deliveryOrder({ n: i + 1, at: createdAt + i, result: "timeout", ms: 0, error: "" }),
      ),
    ),
  ],
  [
    "an error of 200 characters in history",
    withHistory([{ ...failedHistory[0], error: "é".repeat(200) }]),
  ],
  [
    "a history error with a quote, a backslash and a control escaped",
    withHistory([deliveryOrder({ ...failedHistory[0], error: 'a "b" \\ \u0001' })]),
  ],
  [
    "a history with spaces",
    withHeader(
      classified(retried),
      Header.history,
      JSON.stringify(failedHistory).replaceAll(",", ", "),
    ),
  ],
  [
    "a history with a fractional or exponent ms",
    withHistory([
      { ...failedHistory[0], ms: 0.25 },
      { ...failedHistory[1], ms: 1e-7 },
    ]),
  ],
  ["a history time of 0", withHistory([{ ...failedHistory[0], at: 0 }])],
  ["an unknown header", withHeader(outcome(delivered), "X-Other", "whatever")],
  ["UTF-8 before the names", leadingValue(Buffer.from("ünïcode 😀"))],
  ["a byte that is not UTF-8 before the names", leadingValue(Buffer.from([0xff, 0x80, 0x20]))],
  ["a cut UTF-8 sequence before the names", leadingValue(Buffer.from([0xe2, 0x82]))],
  [
    // Read on the bytes, "Abcdefghijklmnod" would be the previous line's Hookline-Task-Id.
    "a name whose bytes, 18 behind its characters, spell a header's",
    leadingValue(
      Buffer.from(`${"é".repeat(18)}\r\nX-Note: ${Header.taskId}\r\nAbcdefghijklmnod: x`),
    ),
  ],
  ["a byte-order mark", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), outcome(delivered)])],
  ["an empty tenant reads as none", withHeader(outcome(delivered), Header.tenantId, "")],
  [
    "repeated headers: the first wins",
    raw([
      `${Header.msgId}: ${msgId}`,
      `${Header.taskId}: ${delivered.taskId}`,
      `${Header.eventId}: evt_1`,
      `${Header.eventId}: evt_2`,
      `${Header.eventType}: order.created`,
      `${Header.endpointId}: ${endpointId}`,
      `${Header.attempt}:   1  `,
      `${Header.deferrals}: 0`,
      `${Header.createdAt}: ${createdAt}`,
      `${Header.deadline}: ${createdAt + 1}`,
      `${Header.history}: ${JSON.stringify(delivered.history)}`,
      `${Header.result}: delivered`,
      `${Header.durationMs}: 31`,
      "a line without a colon",
      `${Header.tenantId}: `,
      `${Header.tenantId}: acme`,
    ]),
  ],
  [
    "a status line (nats.js reads it)",
    Buffer.from(
      Buffer.from(outcome(delivered)).toString().replace("NATS/1.0", "NATS/1.0 100 Idle"),
    ),
  ],
];

const invalid: [string, Uint8Array][] = [
  ["no event id", withHeader(outcome(delivered), Header.eventId, undefined)],
  ["a bad event id", withHeader(outcome(delivered), Header.eventId, "-evt")],
  ["a bad event type", withHeader(outcome(delivered), Header.eventType, "order created")],
  ["a bad endpoint id", withHeader(outcome(delivered), Header.endpointId, "ep_1")],
  ["no task id", withHeader(outcome(delivered), Header.taskId, undefined)],
  ["a short task id", withHeader(outcome(delivered), Header.taskId, "ab")],
  ["a tenant '..'", withHeader(outcome(delivered), Header.tenantId, "..")],
  ["a tenant with a slash", withHeader(outcome(delivered), Header.tenantId, "a/b")],
  ["an attempt that is not a count", withHeader(outcome(delivered), Header.attempt, "-1")],
  ["an attempt of ten digits", withHeader(outcome(delivered), Header.attempt, "1234567890")],
  ["no deferrals", withHeader(outcome(delivered), Header.deferrals, undefined)],
  ["no created-at", withHeader(outcome(delivered), Header.createdAt, undefined)],
  ["a created-at of 16 digits", withHeader(outcome(delivered), Header.createdAt, "1".repeat(16))],
  ["no deadline", withHeader(outcome(delivered), Header.deadline, undefined)],
  ["a bad not-before", withHeader(classified(retried), Header.notBefore, "soon")],
  ["no history", withHeader(outcome(delivered), Header.history, undefined)],
  ["a history that is not JSON", withHeader(outcome(delivered), Header.history, "[{")],
  ["a history that is an object", withHeader(outcome(delivered), Header.history, '{"n":1}')],
  [
    "eleven attempts of history",
    withHeader(
      outcome(delivered),
      Header.history,
      JSON.stringify(Array.from({ length: 11 }, () => delivered.history[0])),
    ),
  ],
  ...(
    [
      ["an attempt number below 0", { n: -1 }],
      ["a fractional time", { at: 1.5 }],
      ["a time past safe integers", { at: 2 ** 53 }],
      ["an unknown result", { result: "bogus" }],
      ["a status of 99", { status: 99 }],
      ["a status of 600", { status: 600 }],
      ["a null status", { status: null }],
      ["an error of 201 characters", { error: "e".repeat(201) }],
      ["an error that is a number", { error: 5 }],
      ["a negative duration", { ms: -1 }],
      ["a duration that is a string", { ms: "5" }],
      ["no time", { at: undefined }],
      ["a time of 16 digits past safe integers", { at: 2 ** 53 + 2 }],
      ["an exponent time", { at: 1e21 }],
    ] as const
  ).flatMap(([name, change]): [string, Uint8Array][] => [
    [`history: ${name}`, withHistory([{ ...delivered.history[0], ...change }], outcome(delivered))],
    [
      `history in delivery's key order: ${name}`,
      withHistory([deliveryOrder({ ...delivered.history[0], ...change })], outcome(delivered)),
    ],
  ]),
  [
    "a history with a bad last of two",
    withHistory(failedHistory.map((r, i) => (i === 1 ? { ...r, result: "lost" } : r))),
  ],
  [
    "a history with a bad first of two",
    withHistory(failedHistory.map((r, i) => (i === 0 ? { ...r, n: 1.5 } : r))),
  ],
  ["a history with a trailing comma", withHeader(outcome(delivered), Header.history, "[{},]")],
  [
    "an infinite duration",
    withHeader(
      outcome(delivered),
      Header.history,
      '[{"n":1,"at":150,"result":"delivered","ms":1e400}]',
    ),
  ],
  [
    "a history time with a leading zero",
    withHeader(
      outcome(delivered),
      Header.history,
      '[{"n":1,"at":0150,"result":"delivered","ms":1}]',
    ),
  ],
  ["a history entry that is an array", withHeader(outcome(delivered), Header.history, "[[1]]")],
  [
    "a replay-of of 101 characters",
    withHeader(outcome(delivered), Header.replayOf, "r".repeat(101)),
  ],
  ["no result", withHeader(outcome(delivered), Header.result, undefined)],
  ["an unknown result", withHeader(outcome(delivered), Header.result, "lost")],
  ["a status of 600", withHeader(outcome(delivered), Header.status, "600")],
  ["a status of two digits", withHeader(outcome(delivered), Header.status, "20")],
  ["an error of 201 characters", withHeader(classified(retried), Header.error, "e".repeat(201))],
  ["no duration", withHeader(outcome(delivered), Header.durationMs, undefined)],
  ["a fractional duration", withHeader(outcome(delivered), Header.durationMs, "1.5")],
  ["a bad retry-after", withHeader(classified(retried), Header.retryAfterMs, "-5")],
  [
    "a response body of 1,025 characters",
    withHeader(outcome(delivered), Header.responseBody, "b".repeat(1_025)),
  ],
  ["an unknown decision", withHeader(classified(retried), Header.decision, "maybe")],
  ["an unknown reason", withHeader(classified(retried), Header.reason, "tired")],
  [
    "the first of repeated event ids is empty",
    Buffer.from(
      Buffer.from(outcome(delivered))
        .toString()
        .replace(`${Header.eventId}: evt_1`, `${Header.eventId}: \r\n${Header.eventId}: evt_1`),
    ),
  ],
];

/** What contracts accepts and the log cannot store. */
const readerOnly: [string, Uint8Array, string][] = [
  ["no Nats-Msg-Id", withHeader(outcome(delivered), Header.msgId, undefined), "Nats-Msg-Id"],
  ["an empty history", withHeader(outcome(delivered), Header.history, "[]"), "no attempt"],
  [
    "a duration beyond a Postgres integer",
    withHeader(outcome(delivered), Header.durationMs, "2147483648"),
    "out of range",
  ],
  ["a NUL in the error", withHeader(classified(retried), Header.error, "a\0b"), "NUL"],
  ["a NUL in the task id", withHeader(outcome(delivered), Header.taskId, "evt\0x"), "NUL"],
  [
    "a time past the year 9999",
    withHeader(outcome(delivered), Header.createdAt, "253402300800000"),
    "9999",
  ],
];

describe("readRecord", () => {
  it.each(valid)("reads %s as contracts' decodeLoggedAttempt does", (_, bytes, data) => {
    expect(expectSameAsContracts(bytes, data).ok).toBe(true);
  });

  it.each(invalid)("rejects %s, as contracts' decodeLoggedAttempt does", (_, bytes) => {
    expect(decodeLoggedAttempt(MsgHdrsImpl.decode(bytes)).ok).toBe(false);
    expect(expectSameAsContracts(bytes).ok).toBe(false);
  });

  it.each(readerOnly)("rejects %s, which contracts accepts", (_, bytes, problem) => {
    expect(decodeLoggedAttempt(MsgHdrsImpl.decode(bytes)).ok).toBe(true);
    const read = readBoth(bytes, body);
    expect(read).toMatchObject({ ok: false, error: expect.stringContaining(problem) });
  });

  const blocks: [string, Uint8Array][] = [
    ...valid.map(([name, bytes]): [string, Uint8Array] => [name, bytes]),
    ["a value between a tab and NBSP", raw([`${Header.eventId}:\t evt_1\u00a0 `])],
    ["a line without a colon, not UTF-8", leadingValue(Buffer.from("x\r\n\xff y", "latin1"))],
    ["a block without its last CRLF", Buffer.from(`NATS/1.0\r\n${Header.eventId}: evt_1`)],
  ];
  it.each(blocks)("reads the values nats.js reads: %s", (_, bytes) => {
    const fromBlock = valuesOfBlock(bytes);
    const fromHeaders = valuesOfHeaders(MsgHdrsImpl.decode(bytes));
    if (fromBlock === undefined) {
      expect(Buffer.from(bytes).includes("NATS/1.0 ")).toBe(true); // the status line's sample
    } else expect(Array.from(fromBlock, (v) => v ?? "")).toEqual(fromHeaders);
  });

  it("leaves blocks nats.js reads differently to nats.js", () => {
    const status = Buffer.from(
      Buffer.from(outcome(delivered)).toString().replace("NATS/1.0", "NATS/1.0 100 Idle"),
    );
    expect(valuesOfBlock(status)).toBeUndefined();
    expect(valuesOfBlock(raw([`${Header.eventId}: a\rb`]))).toBeUndefined();
    expect(valuesOfBlock(raw(["Bad Name: x"]))).toBeUndefined();
    expect(valuesOfBlock(raw([`${Header.eventId}: a\nb`]))).toBeUndefined();
    expect(valuesOfBlock(leadingValue(Buffer.from("é\r\nBäd: x")))).toBeUndefined();
    expect(valuesOfBlock(leadingValue(Buffer.from("x\r\n\xff: y", "latin1")))).toBeUndefined();
  });

  it("agrees with contracts on generated histories", () => {
    const attempt = fc.record(
      {
        n: fc.oneof(fc.nat(), fc.constantFrom(-1, 0.5, 2 ** 53)),
        at: fc.oneof(fc.nat({ max: 253_402_300_799_999 }), fc.constantFrom(-1, 1.5, 2 ** 53)),
        result: fc.constantFrom("delivered", "http_error", "rate_limited", "lost"),
        status: fc.oneof(fc.integer({ min: 99, max: 600 }), fc.constantFrom(200.5, "200", null)),
        error: fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.string({ unit: "binary", maxLength: 8 }),
          fc.string({ minLength: 199, maxLength: 201 }),
          fc.constant(5),
        ),
        ms: fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constant(-1)),
      },
      { requiredKeys: ["n", "at", "result", "ms"] },
    );
    const text = fc
      .tuple(
        fc.array(attempt, { minLength: 1, maxLength: 11 }),
        fc.boolean(),
        fc.constantFrom("", "", " "),
      )
      .map(([attempts, delivery, space]) =>
        JSON.stringify(delivery ? attempts.map(deliveryOrder) : attempts).replaceAll(
          '":',
          `":${space}`,
        ),
      );
    fc.assert(
      fc.property(text, (history) => {
        expectSameAsContracts(withHeader(classified(retried), Header.history, history));
      }),
      { numRuns: 1000 },
    );
  });

  it("agrees with contracts on generated records", () => {
    const text = fc.string({ maxLength: 12 }).map((s) => s.replace(/[\r\n\0]/g, " "));
    const record = fc.record(
      {
        tenantId: fc.option(fc.constantFrom("acme", "t.1", ".", "", " x "), { nil: undefined }),
        attempt: fc.nat({ max: 12 }),
        status: fc.option(fc.integer({ min: 99, max: 600 }), { nil: undefined }),
        error: fc.option(text, { nil: undefined }),
        responseBody: fc.option(text, { nil: undefined }),
        result: fc.constantFrom("delivered", "http_error", "timeout", "network_error"),
        decision: fc.option(fc.constantFrom("retry", "deadletter", "ignore"), { nil: undefined }),
        notBefore: fc.option(fc.nat(), { nil: undefined }),
        at: fc.nat(),
        data: fc.uint8Array({ maxLength: 4 }),
      },
      { requiredKeys: ["attempt", "result", "at", "data"] },
    );
    fc.assert(
      fc.property(record, (r) => {
        const h = encodeOutcome(
          {
            ...delivered,
            tenantId: r.tenantId,
            attempt: r.attempt,
            result: r.result,
            status: undefined,
            error: r.error,
            responseBody: r.responseBody,
            notBefore: r.notBefore,
            history: [{ n: 1, at: r.at, result: r.result, ms: 1 }],
          },
          msgId,
        );
        // Written past encodeOutcome, which would refuse or trim some of these.
        if (r.status !== undefined) h.set(Header.status, String(r.status));
        if (r.decision !== undefined) h.set(Header.decision, r.decision);
        expectSameAsContracts(encoded(h), r.data);
      }),
      { numRuns: 300 },
    );
  });
});
