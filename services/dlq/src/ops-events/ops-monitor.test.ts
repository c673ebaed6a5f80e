import { OPS_EVENT_KINDS } from "@hookline/contracts";
import { createLogger, recordingOpsEventEmitter } from "@hookline/kit";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database, NewDeadLetterRow } from "../db/schema";
import { newDeadLetterId } from "../letters/letter-id";
import {
  attemptRow,
  startAttemptLogDatabase,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import { endpointId } from "../testing/letters";
import { createAttemptWindow } from "./attempt-window";
import { startOpsMonitor } from "./ops-monitor";

let db: Kysely<Database>;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ db, close } = await startAttemptLogDatabase());
});
afterAll(async () => {
  await close?.();
});
beforeEach(async () => {
  await db.deleteFrom("dead_letter_audit").execute();
  await db.deleteFrom("dead_letters").execute();
  await truncateAttemptLog(db);
});

const START = Date.parse("2026-11-30T23:00:10.000Z");
const logger = createLogger({ service: "dlq", level: "silent", pretty: false });

function monitorAt(clock: { now: number }) {
  const emitter = recordingOpsEventEmitter();
  const attemptWindow = createAttemptWindow({
    windowMs: 300_000,
    systemTenantId: "hookline",
    now: () => clock.now,
  });
  const monitor = startOpsMonitor({
    db,
    emitter,
    kinds: new Set(OPS_EVENT_KINDS),
    systemTenantId: "hookline",
    instance: "test1",
    deadLetterWindowMs: 60_000,
    deadLetterThresholds: [3, 5],
    failureRateThresholds: [0.2, 0.5],
    attemptWindow,
    failureRateWindowText: "5m",
    failureRateMinAttempts: 4,
    checkIntervalMs: 0,
    logger,
    now: () => clock.now,
  });
  return { emitter, monitor, ready: monitor.ready, attemptWindow };
}

let letters = 0;
function openLetter(tenantId = "acme"): NewDeadLetterRow {
  const at = new Date(START);
  letters++;
  return {
    id: newDeadLetterId(at.getTime()),
    task_id: `evt_ops_${letters}:${endpointId(1)}`,
    tenant_id: tenantId,
    event_id: `evt_ops_${letters}`,
    event_type: "order.created",
    endpoint_id: endpointId(1),
    endpoint_url: null,
    reason: "exhausted",
    attempt_count: 1,
    last_status: 500,
    last_error: null,
    created_at: at,
    dead_at: at,
    body: Buffer.from("{}"),
    headers: "{}",
    attempts: "[]",
    updated_at: at,
  };
}

describe("the dlq's operational events", () => {
  it("makes a storm of dead letters one event per endpoint and minute, with its count", async () => {
    const clock = { now: START };
    const { emitter, monitor, ready } = monitorAt(clock);
    await ready;
    try {
      for (let n = 0; n < 25; n++) monitor.stored({ endpointId: endpointId(1), tenantId: "acme" });
      monitor.stored({ endpointId: endpointId(2), tenantId: "acme" });
      // Neither an operator endpoint's letters nor invalid messages (no endpoint) count.
      monitor.stored({ endpointId: endpointId(3), tenantId: "hookline" });
      monitor.stored({ endpointId: null, tenantId: "acme" });
      await monitor.check();
      expect(emitter.events.filter((e) => e.kind === "task.dead_lettered")).toEqual([]);
      clock.now = START + 60_000;
      await monitor.check();
      const dead = emitter.events.filter((e) => e.kind === "task.dead_lettered");
      expect(dead.map((e) => [e.data.endpointId, e.data.count])).toEqual([
        [endpointId(1), 25],
        [endpointId(2), 1],
      ]);
      expect(dead[0]?.id).toBe(`ops_task.dead_lettered_${endpointId(1)}_2026-11-30T23:00:00_test1`);
    } finally {
      await monitor.stop();
    }
  });

  it("announces open dead letters reaching each threshold from below, after a baseline", async () => {
    await db.insertInto("dead_letters").values([openLetter(), openLetter()]).execute();
    const clock = { now: START };
    const { emitter, monitor, ready } = monitorAt(clock);
    await ready;
    const thresholds = () =>
      emitter.events.filter((e) => e.kind === "deadletters.threshold").map((e) => e.data);
    try {
      await monitor.check();
      // The system tenant's letters are not counted.
      await db
        .insertInto("dead_letters")
        .values([openLetter(), openLetter("hookline")])
        .execute();
      await monitor.check();
      expect(thresholds()).toEqual([{ open: 3, threshold: 3 }]);
      await monitor.check();
      expect(thresholds()).toHaveLength(1);
      await db.insertInto("dead_letters").values([openLetter(), openLetter()]).execute();
      clock.now += 60_000;
      await monitor.check();
      expect(thresholds()).toEqual([
        { open: 3, threshold: 3 },
        { open: 5, threshold: 5 },
      ]);
    } finally {
      await monitor.stop();
    }
  });

  it("announces an endpoint's failure rate crossing the warning, then the critical threshold", async () => {
    const clock = { now: START };
    const { emitter, monitor, ready, attemptWindow } = monitorAt(clock);
    await ready;
    let n = 0;
    // What the attempt log hands over once a batch is written.
    const attempts = (endpoint: number, results: string[], tenantId = "default") =>
      attemptWindow.add(
        results.map((result) =>
          attemptRow({
            attempt_id: `att_${n++}`,
            endpoint_id: endpointId(endpoint),
            tenant_id: tenantId,
            attempted_at: new Date(clock.now - 1_000),
            result,
            status: result === "delivered" ? 200 : 500,
          }),
        ),
      );
    const rates = () =>
      emitter.events
        .filter((e) => e.kind === "endpoint.failure_rate")
        .map((e) => [e.data.endpointId, e.data.threshold, e.data.severity, e.data.attempts]);
    try {
      await monitor.check();
      // 1 of 2 failed: too few attempts to say anything. An operator endpoint is not rated.
      attempts(2, ["delivered", "http_error"]);
      attempts(3, ["http_error", "http_error", "http_error", "http_error"], "hookline");
      attempts(1, ["delivered", "delivered", "delivered", "http_error", "timeout"]);
      await monitor.check();
      expect(rates()).toEqual([[endpointId(1), 0.2, "warning", 5]]);
      // Staying above says nothing.
      await monitor.check();
      expect(rates()).toHaveLength(1);
      attempts(1, ["http_error", "http_error", "network_error"]);
      clock.now += 60_000;
      await monitor.check();
      expect(rates()).toEqual([
        [endpointId(1), 0.2, "warning", 5],
        [endpointId(1), 0.5, "critical", 8],
      ]);
      // Attempts older than the window no longer count: the endpoint drops out.
      clock.now += 600_000;
      await monitor.check();
      expect(rates()).toHaveLength(2);
      expect(attemptWindow.size).toBe(0);
      // Falling below and rising again announces again.
      attempts(1, ["http_error", "http_error", "http_error", "http_error"]);
      await monitor.check();
      expect(rates()).toEqual([
        [endpointId(1), 0.2, "warning", 5],
        [endpointId(1), 0.5, "critical", 8],
        [endpointId(1), 0.5, "critical", 4],
      ]);
    } finally {
      await monitor.stop();
    }
  });

  it("rates nothing at start, and announces an endpoint already failing once enough attempts are counted", async () => {
    const clock = { now: START };
    const { emitter, monitor, ready, attemptWindow } = monitorAt(clock);
    await ready;
    try {
      // A restart: the window starts empty, there is no baseline for failure rates.
      const row = (n: number) =>
        attemptRow({
          attempt_id: `att_restart_${n}`,
          endpoint_id: endpointId(1),
          attempted_at: new Date(clock.now),
        });
      attemptWindow.add([row(1), row(2), row(3)]);
      await monitor.check();
      expect(emitter.events.filter((e) => e.kind === "endpoint.failure_rate")).toEqual([]);
      attemptWindow.add([row(4)]);
      await monitor.check();
      const rates = emitter.events.filter((e) => e.kind === "endpoint.failure_rate");
      expect(rates.map((e) => [e.data.threshold, e.data.attempts, e.data.rate])).toEqual([
        [0.5, 4, 1],
      ]);
    } finally {
      await monitor.stop();
    }
  });
});
