import { pollUntil, type Sink, type Stack, sleep } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

let e2e: E2eStackWithDlq;
let sink: Sink;
let stack: Stack;
let ingest: IngestClient;
let dlq: DlqClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "e2edlqone",
    services: ["ingest", "delivery", "classifier", "dlq"],
    env: { RETRY_SCHEDULE: "200ms,500ms", RETRY_TIERS: "200ms,1s,3s" },
  });
  ({ sink, stack, ingest, dlq } = e2e);
});

afterAll(() => e2e?.stop());

/** Waits until the dlq lists exactly `count` letters for the endpoint, and returns them. */
async function lettersOf(endpointId: string, count: number): Promise<DeadLetter[]> {
  let letters: DeadLetter[] = [];
  await pollUntil(
    async () => {
      const page = await dlq.list({ endpointId });
      letters = page.json.data;
      return page.status === 200 && letters.length >= count;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `${count} dead letters for ${endpointId}` },
  );
  expect(letters).toHaveLength(count);
  return letters;
}

/** A subscribed endpoint at `path` of the sink that answers 400 until the test fixes it. */
async function refusingEndpoint(path: string, eventType: string) {
  sink.setDefault(path, { status: 400, body: "bad request" });
  const endpoint = await ingest.createEndpoint({ url: sink.url(path), eventTypes: [eventType] });
  sink.setSecrets(path, [endpoint.secret]);
  return endpoint;
}

describe("dlq in the full stack", () => {
  it("is ready, and answers stats and metrics", async () => {
    const ready = await fetch(`${stack.url("dlq")}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: { nats: true, provisioned: true, database: true, api: true },
    });

    const stats = await dlq.stats();
    expect(stats.status).toBe(200);
    expect(Object.keys(stats.json.byStatus).sort()).toEqual(
      ["discarded", "open", "replayed", "resolved"].sort(),
    );
    expect(stats.json.byReason).toHaveProperty("non_retryable");

    const unauthorized = await fetch(`${stack.url("dlq")}/v1/dead-letters/stats`);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("content-type")).toContain("application/problem+json");

    const metrics = await (await fetch(`${stack.url("dlq")}/metrics`)).text();
    expect(metrics).toContain("hookline_dead_letters{");
  });

  it("dead-letters a 400 with its history, and a replay delivers it under the same webhook-id", async () => {
    const endpoint = await refusingEndpoint("/refuses", "invoice.refused");
    const before = (await dlq.stats()).json;
    const posted = await ingest.postEvent({
      eventType: "invoice.refused",
      payload: { invoiceId: "inv_1", amount: 1200 },
    });
    expect(posted.status).toBe(202);
    const eventId = String(posted.json.eventId);

    const [refused] = await sink.waitFor(1, { path: "/refuses" });
    expect(refused?.answeredStatus).toBe(400);
    expect(refused?.verified).toBe(true);

    const [letter] = await lettersOf(endpoint.id, 1);
    expect(letter).toMatchObject({
      taskId: `${eventId}:${endpoint.id}`,
      eventId,
      eventType: "invoice.refused",
      endpointId: endpoint.id,
      endpointUrl: sink.url("/refuses"),
      reason: "non_retryable",
      status: "open",
      attemptCount: 1,
      lastStatus: 400,
      replayCount: 0,
    });
    const id = letter?.id ?? "";

    const detail = await dlq.get(id);
    expect(detail.status).toBe(200);
    expect(detail.json.body).toBe(refused?.body);
    expect(detail.json.attempts).toEqual([
      expect.objectContaining({ n: 1, result: "http_error", status: 400 }),
    ]);

    const after = (await dlq.stats()).json;
    expect(after.byStatus.open).toBe(before.byStatus.open + 1);
    expect(after.byReason.non_retryable).toBe((before.byReason.non_retryable ?? 0) + 1);
    expect(after.byEndpoint[endpoint.id]).toBe(1);

    // The partner fixes the endpoint; the operator replays.
    sink.setDefault("/refuses", { status: 200 });
    const replayed = await dlq.replay(id, "partner fixed their validation");
    expect(replayed.status).toBe(202);
    expect(replayed.json).toMatchObject({ id, status: "replayed", replayCount: 1 });

    const deliveries = await sink.waitFor(2, { path: "/refuses" });
    const redelivered = deliveries[1];
    expect(redelivered?.answeredStatus).toBe(200);
    expect(redelivered?.verified).toBe(true);
    expect(redelivered?.webhookId).toBe(eventId);
    expect(redelivered?.webhookId).toBe(refused?.webhookId);
    expect(redelivered?.body).toBe(refused?.body);

    const settled = await dlq.get(id);
    expect(settled.json).toMatchObject({
      status: "replayed",
      replayCount: 1,
      note: "partner fixed their validation",
    });

    const audit = await dlq.audit(id);
    expect(audit.status).toBe(200);
    expect(audit.json.data.map((entry) => [entry.action, entry.actor])).toEqual([
      ["stored", "dlq-store"],
      ["replayed", "ops"],
    ]);
    expect(audit.json.data[1]?.note).toBe("partner fixed their validation");

    // Only open letters replay; a second click does not send it twice.
    const again = await dlq.replay(id);
    expect(again.status).toBe(409);
    await sleep(500);
    expect(sink.count("/refuses")).toBe(2);
  });

  it("resolves one letter and discards another, each with a note, and audits both", async () => {
    const endpoint = await refusingEndpoint("/settles", "invoice.settled");
    const batch = await ingest.request("/v1/events/batch", {
      method: "POST",
      body: JSON.stringify({
        events: [1, 2].map((n) => ({ eventType: "invoice.settled", payload: { n } })),
      }),
    });
    expect(batch.status).toBe(202);
    const [first, second] = await lettersOf(endpoint.id, 2);
    const resolved = await dlq.resolve(first?.id ?? "", "sent by hand");
    expect(resolved.status).toBe(200);
    expect(resolved.json).toMatchObject({ status: "resolved", resolvedBy: "ops" });
    const discarded = await dlq.discard(second?.id ?? "", "test data");
    expect(discarded.status).toBe(200);
    expect(discarded.json).toMatchObject({ status: "discarded", resolvedBy: "ops" });

    const trail = await dlq.audit(second?.id ?? "");
    expect(trail.json.data.at(-1)).toMatchObject({
      action: "discarded",
      actor: "ops",
      note: "test data",
    });
    // A settled letter can't be replayed.
    expect((await dlq.replay(first?.id ?? "")).status).toBe(409);
    const open = await dlq.list({ endpointId: endpoint.id, status: "open" });
    expect(open.json.data).toEqual([]);
  });
});
