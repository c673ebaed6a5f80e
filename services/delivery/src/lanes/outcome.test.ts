import { encodeOutcome, Header, RESPONSE_BODY_LIMIT, type TaskMeta } from "@hookline/contracts";
import type { MsgHdrsImpl } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeOutcomeHeaders, outcomeFor, outcomeMsgId } from "./outcome";

const task: TaskMeta = {
  taskId: "evt_1:ep_01JABCDEFGHJKMNPQRSTVWXYZ0",
  eventId: "evt_1",
  eventType: "order.created",
  endpointId: "ep_01JABCDEFGHJKMNPQRSTVWXYZ0",
  attempt: 2,
  deferrals: 1,
  createdAt: 1_700_000_000_000,
  deadline: 1_700_100_000_000,
  notBefore: 1_700_000_050_000,
  history: [
    { n: 1, at: 1_700_000_000_100, result: "timeout", ms: 15_000 },
    { n: 2, at: 1_700_000_020_000, result: "http_error", status: 502, ms: 12 },
  ],
};

describe("outcomeFor", () => {
  it("counts a request as an attempt and appends it to the history", () => {
    const outcome = outcomeFor(task, {
      result: "http_error",
      at: 1_700_000_060_000,
      ms: 33.4,
      status: 503,
      error: "busy",
      retryAfterMs: 10_000,
      responseBody: "busy",
    });
    expect(outcome).toMatchObject({
      taskId: task.taskId,
      attempt: 3,
      deferrals: 1,
      result: "http_error",
      status: 503,
      error: "busy",
      durationMs: 33,
      retryAfterMs: 10_000,
      responseBody: "busy",
    });
    expect(outcome.notBefore).toBeUndefined();
    expect(outcome.history).toHaveLength(3);
    expect(outcome.history[2]).toEqual({
      n: 3,
      at: 1_700_000_060_000,
      result: "http_error",
      status: 503,
      error: "busy",
      ms: 33,
    });
  });

  it("does not count endpoint_missing or endpoint_disabled as attempts", () => {
    for (const result of ["endpoint_missing", "endpoint_disabled"] as const) {
      const outcome = outcomeFor(task, { result, at: 1, ms: 0 });
      expect(outcome.attempt).toBe(2);
      expect(outcome.history.at(-1)).toEqual({ n: 2, at: 1, result, ms: 0 });
    }
  });

  it("starts a history for a fresh task", () => {
    const fresh: TaskMeta = { ...task, attempt: 0, deferrals: 0, history: undefined };
    const outcome = outcomeFor(fresh, { result: "delivered", at: 5, ms: 2, status: 200 });
    expect(outcome.attempt).toBe(1);
    expect(outcome.history).toEqual([{ n: 1, at: 5, result: "delivered", status: 200, ms: 2 }]);
  });

  it("carries a success's response body, and none when the endpoint sent none", () => {
    const answered = { result: "delivered", at: 5, ms: 2, status: 200 } as const;
    expect(outcomeFor(task, { ...answered, responseBody: '{"ok":true}' }).responseBody).toBe(
      '{"ok":true}',
    );
    expect(outcomeFor(task, answered).responseBody).toBeUndefined();
  });

  it("keeps every task field but notBefore, the tenant included", () => {
    // Required: a field added to TaskMeta fails to compile here until this test covers it.
    const everyField: Required<TaskMeta> = {
      ...task,
      tenantId: "acme",
      notBefore: 1_700_000_050_000,
      history: task.history ?? [],
      replayOf: "dl_123",
    };
    const outcome = outcomeFor(everyField, { result: "timeout", at: 1, ms: 1 });
    for (const field of Object.keys(everyField) as (keyof TaskMeta)[]) {
      if (field === "notBefore") expect(outcome.notBefore).toBeUndefined();
      else if (field === "attempt") expect(outcome.attempt).toBe(everyField.attempt + 1);
      else if (field === "history")
        expect(outcome.history.slice(0, -1)).toEqual(everyField.history);
      else expect(outcome[field], field).toEqual(everyField[field]);
    }
    expect(outcomeFor(task, { result: "timeout", at: 1, ms: 1 }).tenantId).toBeUndefined();
  });

  it("keeps the replay marker", () => {
    const replayed: TaskMeta = { ...task, replayOf: "dl_123" };
    expect(outcomeFor(replayed, { result: "timeout", at: 1, ms: 1 }).replayOf).toBe("dl_123");
  });
});

describe("outcomeMsgId", () => {
  it("names the attempt this pass made and the dispatch message", () => {
    expect(outcomeMsgId(task, "http_error", 42)).toBe(`${task.taskId}#3@42`);
    expect(outcomeMsgId(task, "delivered", 42)).toBe(`${task.taskId}#3@42`);
  });

  it("keeps passes without a request apart from the attempt they follow", () => {
    expect(outcomeMsgId(task, "endpoint_disabled", 42)).toBe(
      `${task.taskId}#2.endpoint_disabled@42`,
    );
  });

  it("differs for a replay that restarts the attempt count", () => {
    const first = outcomeMsgId({ ...task, attempt: 0 }, "http_error", 10);
    const replay = outcomeMsgId({ ...task, attempt: 0, replayOf: "dl_1" }, "http_error", 99);
    expect(first).not.toBe(replay);
  });
});

describe("encodeOutcomeHeaders", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const noBreaks = fc.string({ maxLength: 40 }).filter((s) => !/[\r\n]/.test(s));
  const results = [
    "delivered",
    "http_error",
    "timeout",
    "circuit_open",
    "endpoint_missing",
  ] as const;

  it("writes exactly the bytes encodeOutcome does", () => {
    fc.assert(
      fc.property(
        fc.record({
          taskId: noBreaks,
          eventId: noBreaks,
          eventType: noBreaks,
          endpointId: noBreaks,
          tenantId: fc.option(noBreaks, { nil: undefined }),
          replayOf: fc.option(noBreaks, { nil: undefined }),
          notBefore: fc.option(fc.nat(), { nil: undefined }),
          attempt: fc.nat(20),
          deferrals: fc.nat(20),
          createdAt: fc.nat(),
          deadline: fc.nat(),
          history: fc.option(fc.array(fc.constant(task.history?.[1]), { maxLength: 12 }), {
            nil: undefined,
          }),
        }),
        fc.record({
          result: fc.constantFrom(...results),
          at: fc.nat(),
          ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
          status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
          error: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
          retryAfterMs: fc.option(fc.nat(), { nil: undefined }),
          // surrounding spaces included: both trim them as nats.js does
          responseBody: fc.option(
            fc.string({ maxLength: RESPONSE_BODY_LIMIT }).filter((s) => !/[\r\n]/.test(s)),
            { nil: undefined },
          ),
        }),
        noBreaks,
        (raw, summary, msgId) => {
          const meta = outcomeFor(raw as TaskMeta, summary);
          // outcomeFor drops notBefore; put it back to cover the header too.
          const withNotBefore = { ...meta, notBefore: raw.notBefore };
          for (const m of [meta, withNotBefore]) {
            expect(text(encodeOutcomeHeaders(m, msgId))).toBe(
              text((encodeOutcome(m, msgId) as MsgHdrsImpl).encode()),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses line breaks as nats.js does", () => {
    const meta = outcomeFor(
      { ...task, eventType: "a\r\nb" },
      { result: "delivered", at: 1, ms: 1 },
    );
    expect(() => encodeOutcome(meta, "id")).toThrow();
    expect(() => encodeOutcomeHeaders(meta, "id")).toThrow();
    const body = outcomeFor(task, { result: "delivered", at: 1, ms: 1, responseBody: "a\nb" });
    expect(() => encodeOutcome(body, "id")).toThrow();
    expect(() => encodeOutcomeHeaders(body, "id")).toThrow();
  });

  it("writes the response body last, after Retry-After", () => {
    const meta = outcomeFor(task, {
      result: "http_error",
      at: 1,
      ms: 1,
      status: 503,
      retryAfterMs: 5_000,
      responseBody: "try later",
    });
    const lines = text(encodeOutcomeHeaders(meta, "id")).trimEnd().split("\r\n");
    expect(lines.slice(-2)).toEqual([
      `${Header.retryAfterMs}: 5000`,
      `${Header.responseBody}: try later`,
    ]);
  });
});
