import { encodeTask, passMsgId, type TaskMeta, taskIdFor } from "@hookline/contracts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import {
  ACME_TOKEN,
  ATTEMPT_READER_TOKENS,
  attemptRow,
  insertAttempts,
  OPS_TOKEN,
  startAttemptReadHarness,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import { type DlqHarness, dlqAppOver } from "../testing/dlq-harness";
import { endpointId, incomingLetter } from "../testing/letters";

let h: DlqHarness;
let app: DlqApp;
beforeAll(async () => {
  ({ h, app } = await startAttemptReadHarness("dlq_retry_event"));
}, 60_000);
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(h.database.db);
  await h.reset();
  await h.jsm.streams.purge(h.names.streams.retry);
});

async function post(path: string, body?: unknown, token = OPS_TOKEN) {
  const response = await app.request(path, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: (await response.json()) as Record<string, unknown>,
  };
}

let outcomeSeq = 0;

/** A task of evt_1 waiting in the 10m tier, as the classifier writes it; its stream sequence. */
async function parkInTier(endpoint: string): Promise<number> {
  const now = Date.now();
  const task: TaskMeta = {
    taskId: taskIdFor("evt_1", endpoint),
    eventId: "evt_1",
    eventType: "order.created",
    endpointId: endpoint,
    attempt: 1,
    deferrals: 0,
    createdAt: now - 2_000,
    deadline: now + 86_400_000,
    notBefore: now + 600_000,
  };
  outcomeSeq++;
  const ack = await h.js.publish(h.names.subjects.retry("10m", endpoint), "{}", {
    headers: encodeTask(task, passMsgId(task, outcomeSeq)),
  });
  return ack.seq;
}

const retrying = (endpoint: string) =>
  attemptRow({ endpoint_id: endpoint, attempted_at: new Date(Date.now() - 1_000) });

describe("POST /v1/events/{eventId}/retry", () => {
  it("answers each task's outcome and counts it", async () => {
    const seq = await parkInTier(endpointId(1));
    await insertAttempts(h.database.db, [retrying(endpointId(1))]);

    const answer = await post("/v1/events/evt_1/retry");

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      tenantId: "default",
      eventId: "evt_1",
      tasks: [
        {
          taskId: taskIdFor("evt_1", endpointId(1)),
          endpointId: endpointId(1),
          outcome: "sent",
          retrySeq: seq,
        },
      ],
    });
    const metrics = await (await app.request("/metrics")).text();
    expect(metrics).toMatch(/hookline_dlq_retry_now_total\{[^}]*outcome="sent"[^}]*\} 1/);
  });

  it("refuses dead-lettered tasks with 409, pointing to the replay of each letter", async () => {
    await insertAttempts(h.database.db, [
      attemptRow({
        endpoint_id: endpointId(2),
        attempted_at: new Date(Date.now() - 5_000),
        status: 400,
        decision: "deadletter",
        next_attempt_at: null,
        reason: "non_retryable",
      }),
    ]);
    const letter = await h.store(
      incomingLetter({ eventId: "evt_1", endpointId: endpointId(2), deadAt: new Date() }),
    );

    const answer = await post("/v1/events/evt_1/retry", {});

    expect(answer.status).toBe(409);
    expect(answer.contentType).toContain("application/problem+json");
    expect(answer.body).toMatchObject({
      code: "task_dead_lettered",
      deadLetters: [
        {
          taskId: taskIdFor("evt_1", endpointId(2)),
          endpointId: endpointId(2),
          deadLetterId: letter.id,
          replay: `/v1/dead-letters/${letter.id}/replay`,
        },
      ],
    });
    expect(String(answer.body.detail)).toContain(`/v1/dead-letters/{id}/replay (${letter.id})`);
  });

  it("answers 404 for an unknown event, and for an endpoint the event has no task to", async () => {
    const unknown = await post("/v1/events/evt_missing/retry");
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toContain("application/problem+json");
    expect(unknown.body.code).toBe("event_not_found");

    await insertAttempts(h.database.db, [retrying(endpointId(1))]);
    const noTask = await post("/v1/events/evt_1/retry", { endpointId: endpointId(7) });
    expect(noTask.status).toBe(404);
    expect(noTask.body).toMatchObject({
      code: "task_not_found",
      errors: [{ path: "endpointId", message: "the event has no task to this endpoint" }],
    });
  });

  it("answers 503 with each task's outcome when NATS is gone, having sent nothing", async () => {
    await insertAttempts(h.database.db, [retrying(endpointId(1))]);
    const nc = await connect({ servers: h.nats.url });
    const [js, jsm] = [jetstream(nc), await jetstreamManager(nc)];
    await nc.close();
    const cutOff = dlqAppOver({ ...h, js, jsm }, { tokens: ATTEMPT_READER_TOKENS });

    const response = await cutOff.request("/v1/events/evt_1/retry", {
      method: "POST",
      headers: { authorization: `Bearer ${OPS_TOKEN}` },
    });

    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toMatchObject({
      code: "unavailable",
      tasks: [{ endpointId: endpointId(1), outcome: "unavailable" }],
    });
  });

  it("names a bad field in a 400, and wants a token that may act", async () => {
    const bad = await post("/v1/events/evt_1/retry", { endpointId: "nope" });
    expect(bad.status).toBe(400);
    expect(bad.contentType).toContain("application/problem+json");
    expect(bad.body).toMatchObject({ code: "invalid_request", errors: [{ path: "endpointId" }] });

    const unknownField = await post("/v1/events/evt_1/retry", { endpoint: endpointId(1) });
    expect(unknownField.status).toBe(400);

    const reader = await post("/v1/events/evt_1/retry", undefined, ACME_TOKEN);
    expect(reader.status).toBe(403);
    expect(reader.body.code).toBe("missing_scope");
  });
});
