import type { TaskMeta } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { outcomeFor, outcomeMsgId } from "./outcome";

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
