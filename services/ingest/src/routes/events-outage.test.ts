import { pollUntil } from "@hookline/testkit";
import type { JetStreamClient } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { countsBySubject, lastTaskOn } from "../testing/dispatch-stream";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function subscribe(harness: IngestHarness, eventType: string): Promise<string> {
  const response = await harness.call("POST", "/v1/endpoints", {
    url: "https://example.com/h",
    eventTypes: [eventType],
  });
  expect(response.status).toBe(201);
  return String(((await response.json()) as { id: string }).id);
}

interface UnavailableProblem {
  code: string;
  detail: string;
  eventId?: string;
  eventIds?: string[];
}

async function expectUnavailable(
  response: Response,
  retryAfter: string,
): Promise<UnavailableProblem> {
  expect(response.status).toBe(503);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  expect(response.headers.get("retry-after")).toBe(retryAfter);
  const problem = (await response.json()) as UnavailableProblem;
  expect(problem.code).toBe("unavailable");
  return problem;
}

const GENERATED_ID = /^evt_[0-9A-HJKMNP-TV-Z]{26}$/;

describe("when NATS is down", () => {
  it("answers 503 with Retry-After naming the ids to resend, never 202, and accepts them after NATS is back", async () => {
    const harness = await startIngestHarness({ prefix: "ingest_outage" });
    h = harness;
    const endpointId = await subscribe(harness, "outage.test");
    const event = (id: string) => ({ eventType: "outage.test", payload: { id }, id });

    expect((await harness.call("POST", "/v1/events", event("before"))).status).toBe(202);

    await harness.nats.kill();
    // Whether the client has noticed yet (fail fast) or a publish times out, the answer is 503,
    // naming the id to send the event again with.
    const single = await expectUnavailable(
      await harness.call("POST", "/v1/events", event("during-1")),
      "1",
    );
    expect(single.eventId).toBe("during-1");
    expect(single.detail).toContain('send it again with id "during-1"');
    const generated = await expectUnavailable(
      await harness.call("POST", "/v1/events", { eventType: "outage.test", payload: 1 }),
      "1",
    );
    expect(generated.eventId).toMatch(GENERATED_ID);
    const keyed = await expectUnavailable(
      await harness.call(
        "POST",
        "/v1/events",
        { eventType: "outage.test", payload: 2 },
        { "idempotency-key": "during-key" },
      ),
      "1",
    );
    expect(keyed.eventId).toBe("during-key");
    const batch = await expectUnavailable(
      await harness.call("POST", "/v1/events/batch", {
        events: [event("during-2"), { eventType: "outage.test", payload: 3 }],
      }),
      "1",
    );
    expect(batch.eventIds).toEqual(["during-2", expect.stringMatching(GENERATED_ID)]);
    await expectUnavailable(
      await harness.call("POST", "/v1/endpoints", { url: "https://example.com/h" }),
      "1",
    );
    expect((await harness.app.request("/readyz")).status).toBe(503);

    await harness.nats.restart();
    let accepted: Response | undefined;
    await pollUntil(
      async () => {
        accepted = await harness.call("POST", "/v1/events", event("after"));
        return accepted.status === 202;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: "ingest to accept events again" },
    );
    expect(await accepted?.json()).toMatchObject({ eventId: "after", tasks: 1 });

    // Resent with the named id, the event is stored under it: its webhook-id.
    const resent = await harness.call("POST", "/v1/events", {
      eventType: "outage.test",
      payload: 1,
      id: generated.eventId,
    });
    expect(await resent.json()).toEqual({ eventId: generated.eventId, tasks: 1, duplicate: false });
    const subject = harness.names.subjects.dispatchFresh(endpointId);
    const task = await lastTaskOn(harness.jsm, harness.names.streams.dispatch, subject);
    expect(task.meta.ok && task.meta.value.eventId).toBe(generated.eventId);
    const resentBatch = await harness.call("POST", "/v1/events/batch", {
      events: batch.eventIds?.map((id, n) => ({ eventType: "outage.test", payload: n, id })),
    });
    expect(resentBatch.status).toBe(202);
    expect(
      ((await resentBatch.json()) as { results: { eventId: string }[] }).results.map(
        (result) => result.eventId,
      ),
    ).toEqual(batch.eventIds);

    const stored = await countsBySubject(harness.jsm, harness.names.streams.dispatch);
    // "before" survived the crash (file storage) and "after" was added; the 503s stored nothing
    // that the client was told had been accepted.
    expect(stored[subject]).toBeGreaterThanOrEqual(2);
    const text = await (await harness.app.request("/metrics")).text();
    expect(text).toMatch(
      /hookline_ingest_events_total\{outcome="unavailable",service="ingest"\} [1-9]/,
    );
  });
});

describe("when the dispatch stream is full", () => {
  it("answers 503 with Retry-After instead of accepting what it cannot store", async () => {
    const harness = await startIngestHarness({ prefix: "ingest_full", dispatchMaxBytes: 8_192 });
    h = harness;
    await subscribe(harness, "fill.up");
    const payload = "f".repeat(1_000);
    let response: Response | undefined;
    for (let n = 0; n < 20; n++) {
      response = await harness.call("POST", "/v1/events", { eventType: "fill.up", payload });
      if (response.status !== 202) break;
    }
    expect(response).toBeDefined();
    if (response === undefined) return;
    const problem = await expectUnavailable(response, "2");
    expect(problem.eventId).toMatch(GENERATED_ID);
  });
});

describe("when a PubAck is lost after the task was stored", () => {
  it("names the id in the 503, and the retry with it is a duplicate: one task, one webhook-id", async () => {
    let loseAcks = true;
    // The task reaches the stream but its PubAck never reaches ingest: a publish_timeout.
    const lossy = (js: JetStreamClient): JetStreamClient =>
      new Proxy(js, {
        get(target, property, receiver) {
          if (property !== "publish") return Reflect.get(target, property, receiver);
          return async (...args: Parameters<JetStreamClient["publish"]>) => {
            const ack = await target.publish(...args);
            if (loseAcks) throw new errors.TimeoutError();
            return ack;
          };
        },
      });
    const harness = await startIngestHarness({ prefix: "ingest_lost_ack", wrapJetStream: lossy });
    h = harness;
    const endpointId = await subscribe(harness, "lost.ack");
    const problem = await expectUnavailable(
      await harness.call("POST", "/v1/events", { eventType: "lost.ack", payload: { n: 1 } }),
      "1",
    );
    expect(problem.eventId).toMatch(GENERATED_ID);

    loseAcks = false;
    const retried = await harness.call("POST", "/v1/events", {
      eventType: "lost.ack",
      payload: { n: 1 },
      id: problem.eventId,
    });
    expect(await retried.json()).toEqual({ eventId: problem.eventId, tasks: 1, duplicate: true });
    const subject = harness.names.subjects.dispatchFresh(endpointId);
    expect((await countsBySubject(harness.jsm, harness.names.streams.dispatch))[subject]).toBe(1);
    const task = await lastTaskOn(harness.jsm, harness.names.streams.dispatch, subject);
    expect(task.meta.ok && task.meta.value.eventId).toBe(problem.eventId);
  });
});
