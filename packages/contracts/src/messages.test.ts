import { MsgHdrsImpl, headers as natsHeaders } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deadLetterReasons } from "./enums";
import { Header } from "./headers";
import {
  type AttemptRecord,
  appendAttempt,
  type DeadLetterMeta,
  deadLetterHeaderBlock,
  decodeDeadLetter,
  decodeOutcome,
  decodeTask,
  encodeDeadLetter,
  encodeOutcome,
  encodeTask,
  HISTORY_LIMIT,
  type OutcomeMeta,
  type TaskMeta,
  taskHeaderBlock,
} from "./messages";

const endpointId = "ep_01JD0000000000000000000000";
const task: TaskMeta = {
  taskId: `evt_1:${endpointId}`,
  eventId: "evt_1",
  eventType: "order.created",
  endpointId,
  attempt: 0,
  deferrals: 0,
  createdAt: 1_700_000_000_000,
  deadline: 1_700_100_000_000,
};
const failure: AttemptRecord = {
  n: 1,
  at: 1_700_000_001_000,
  result: "http_error",
  status: 503,
  ms: 12,
};

describe("task messages", () => {
  it("round-trips a fresh task and sets the dedupe id", () => {
    const h = encodeTask(task, task.taskId);
    expect(h.get(Header.msgId)).toBe(task.taskId);
    expect(decodeTask(h)).toEqual({ ok: true, value: task });
  });

  it("round-trips a retried task with history, not-before and replay-of", () => {
    const retried = {
      ...task,
      attempt: 1,
      notBefore: 1_700_000_005_000,
      history: [failure],
      replayOf: "dl_1",
    };
    expect(decodeTask(encodeTask(retried, `${task.taskId}#1`))).toEqual({
      ok: true,
      value: retried,
    });
  });

  it.each([
    [Header.taskId, undefined, "Hookline-Task-Id: missing"],
    [Header.eventId, "bad id with spaces", "Hookline-Event-Id:"],
    [Header.eventType, "", "Hookline-Event-Type: missing"],
    [Header.endpointId, "ep_nope", "Hookline-Endpoint-Id: an endpoint id"],
    [Header.attempt, "-1", "Hookline-Attempt: a non-negative integer"],
    [Header.deferrals, "two", "Hookline-Deferrals: a non-negative integer"],
    [Header.createdAt, "yesterday", "Hookline-Created-At: epoch milliseconds"],
    [Header.deadline, "1.5", "Hookline-Deadline: epoch milliseconds"],
    [Header.notBefore, "soon", "Hookline-Not-Before: epoch milliseconds"],
    [Header.history, "{not json", "Hookline-History: not JSON"],
    [Header.history, '[{"n":1}]', "Hookline-History:"],
  ])("rejects a bad %s header (%s)", (name, value, message) => {
    const h = encodeTask(task, task.taskId);
    if (value === undefined) h.delete(name);
    else h.set(name, value);
    const decoded = decodeTask(h);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toContain(message);
  });

  it("rejects a message with no headers", () => {
    expect(decodeTask(undefined)).toEqual({ ok: false, error: "the message has no headers" });
    expect(decodeTask(natsHeaders()).ok).toBe(false);
  });
});

describe("taskHeaderBlock", () => {
  const attempt = fc.record(
    {
      n: fc.nat(100),
      at: fc.nat(),
      result: fc.constantFrom("http_error" as const, "timeout" as const),
      status: fc.integer({ min: 100, max: 599 }),
      error: fc.string({ maxLength: 20 }),
      ms: fc.nat(),
    },
    { requiredKeys: ["n", "at", "result", "ms"] },
  );
  const text = fc.string({ unit: "grapheme", maxLength: 30 }).filter((t) => !/[\r\n]/.test(t));
  const meta = fc.record(
    {
      taskId: text,
      eventId: text,
      eventType: text,
      endpointId: text,
      tenantId: text,
      attempt: fc.nat(),
      deferrals: fc.nat(),
      createdAt: fc.nat(),
      deadline: fc.nat(),
      notBefore: fc.nat(),
      history: fc.array(attempt, { maxLength: HISTORY_LIMIT + 2 }),
      replayOf: text,
    },
    {
      requiredKeys: [
        "taskId",
        "eventId",
        "eventType",
        "endpointId",
        "attempt",
        "deferrals",
        "createdAt",
        "deadline",
      ],
    },
  );

  it("is byte for byte encodeTask's header block, so every decoder reads it unchanged", () => {
    fc.assert(
      fc.property(meta, text, (m: TaskMeta, msgId) => {
        const block = taskHeaderBlock(m, msgId);
        expect(Buffer.from(block).toString("utf8")).toBe(
          Buffer.from((encodeTask(m, msgId) as MsgHdrsImpl).encode()).toString("utf8"),
        );
      }),
      { numRuns: 2_000 },
    );
    const block = taskHeaderBlock(task, task.taskId);
    const decoded = MsgHdrsImpl.decode(block);
    expect(decoded.get(Header.msgId)).toBe(task.taskId);
    expect(decodeTask(decoded)).toEqual({ ok: true, value: task });
  });

  it("with a reason, is byte for byte encodeDeadLetter's header block", () => {
    const reasons = fc.constantFrom(...deadLetterReasons);
    fc.assert(
      fc.property(meta, text, reasons, (m: TaskMeta, msgId, reason) => {
        const letter = { ...m, history: m.history ?? [], reason };
        expect(Buffer.from(deadLetterHeaderBlock(letter, msgId)).toString("utf8")).toBe(
          Buffer.from((encodeDeadLetter(letter, msgId) as MsgHdrsImpl).encode()).toString("utf8"),
        );
      }),
      { numRuns: 1_000 },
    );
  });

  it("refuses a value with a line break, as MsgHdrs does", () => {
    expect(() => taskHeaderBlock({ ...task, eventType: "a\r\nb" }, "m")).toThrow(/\\r or \\n/);
    expect(() => encodeTask({ ...task, eventType: "a\r\nb" }, "m")).toThrow();
  });
});

describe("outcome messages", () => {
  const outcome: OutcomeMeta = {
    ...task,
    attempt: 1,
    history: [failure],
    result: "http_error",
    status: 503,
    error: "Service Unavailable",
    durationMs: 12,
    retryAfterMs: 2_000,
  };

  it("round-trips", () => {
    expect(decodeOutcome(encodeOutcome(outcome, `${task.taskId}#1`))).toEqual({
      ok: true,
      value: outcome,
    });
  });

  it("keeps error texts on one line", () => {
    const decoded = decodeOutcome(
      encodeOutcome({ ...outcome, error: "line one\r\nline two" }, "x"),
    );
    expect(decoded.ok && decoded.value.error).toBe("line one line two");
  });

  it.each([
    [Header.result, "exploded", "Hookline-Result:"],
    [Header.result, undefined, "Hookline-Result: missing"],
    [Header.status, "99", "Hookline-Status: an HTTP status"],
    [Header.durationMs, undefined, "Hookline-Duration-Ms: missing"],
    [Header.retryAfterMs, "later", "Hookline-Retry-After-Ms: epoch milliseconds"],
    [Header.history, undefined, "Hookline-History: missing"],
  ])("rejects a bad %s header (%s)", (name, value, message) => {
    const h = encodeOutcome(outcome, "x");
    if (value === undefined) h.delete(name);
    else h.set(name, value);
    const decoded = decodeOutcome(h);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toContain(message);
  });
});

describe("dead-letter messages", () => {
  const letter: DeadLetterMeta = {
    ...task,
    attempt: 1,
    history: [failure],
    reason: "non_retryable",
  };

  it("round-trips", () => {
    expect(decodeDeadLetter(encodeDeadLetter(letter, "x"))).toEqual({ ok: true, value: letter });
  });

  it("round-trips a dead letter that never had an attempt", () => {
    const early: DeadLetterMeta = { ...task, history: [], reason: "poison" };
    expect(decodeDeadLetter(encodeDeadLetter(early, "x"))).toEqual({ ok: true, value: early });
  });

  it("rejects an unknown reason", () => {
    const h = encodeDeadLetter(letter, "x");
    h.set(Header.reason, "bored");
    const decoded = decodeDeadLetter(h);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toContain("Hookline-Reason:");
  });
});

describe("appendAttempt", () => {
  it(`keeps the last ${HISTORY_LIMIT} attempts`, () => {
    let history: AttemptRecord[] = [];
    for (let n = 1; n <= 15; n++) history = appendAttempt(history, { ...failure, n });
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0]?.n).toBe(6);
    expect(history.at(-1)?.n).toBe(15);
  });
});
