import { type NatsServerHandle, pollUntil, type Sink, sleep } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

let e2e: E2eStack;
let nats: NatsServerHandle;
let sink: Sink;
let ingest: IngestClient;

beforeAll(async () => {
  e2e = await startE2eStack({ prefix: "e2eoutage", services: ["ingest", "delivery"] });
  ({ nats, sink, ingest } = e2e);
});

afterAll(() => e2e?.stop());

describe("NATS outage", () => {
  it("answers 503 naming the event ids while NATS is down; resent with them, they deliver", {
    timeout: 90_000,
  }, async () => {
    const endpoint = await ingest.createEndpoint({ url: sink.url("/outage"), eventTypes: ["o.e"] });
    sink.setSecrets("/outage", [endpoint.secret]);

    const acceptedIds: string[] = [];
    // id null: ingest generates one.
    const post = async (n: number, id: string | null = `evt-${n}`) => {
      const res = await ingest.postEvent({
        eventType: "o.e",
        payload: { n },
        ...(id === null ? {} : { id }),
      });
      if (res.status === 202) acceptedIds.push(String(res.json.eventId));
      return res;
    };
    const postBatch = (events: Record<string, unknown>[]) =>
      ingest.request("/v1/events/batch", { method: "POST", body: JSON.stringify({ events }) });

    for (let n = 0; n < 20; n++) expect((await post(n)).status).toBe(202);

    await nats.kill();
    const duringOutage: number[] = [];
    // What each 503 said to resend: events without an id get one decided before publishing.
    const toResend = new Map<number, string>();
    for (let n = 20; n < 40; n++) {
      const res = await post(n, n % 2 === 0 ? null : `evt-${n}`);
      duringOutage.push(res.status);
      if (res.status === 503) {
        expect(res.json).toMatchObject({ status: 503, code: "unavailable" });
        const eventId = String(res.json.eventId);
        expect(eventId).toMatch(n % 2 === 0 ? /^evt_[0-9A-Z]{26}$/ : new RegExp(`^evt-${n}$`));
        toResend.set(n, eventId);
      }
    }
    expect(duringOutage).toEqual(duringOutage.map(() => 503));
    const batch503 = await postBatch([
      { eventType: "o.e", payload: { n: 100 } },
      { eventType: "o.e", payload: { n: 101 }, id: "evt-101" },
    ]);
    expect(batch503.status).toBe(503);
    const { eventIds } = (await batch503.json()) as { eventIds: string[] };
    expect(eventIds).toEqual([expect.stringMatching(/^evt_/), "evt-101"]);

    await nats.restart();
    // The clients reconnect on their own; POST is accepted again once they have.
    let n = 40;
    const until = Date.now() + 30_000;
    let status = 0;
    while (status !== 202 && Date.now() < until) {
      status = (await post(n++)).status;
      if (status !== 202) await sleep(250);
    }
    expect(status).toBe(202);
    for (let m = 0; m < 20; m++) expect((await post(n++)).status).toBe(202);

    // Resent with the ids the 503s named, each event keeps its id, and so its webhook-id.
    for (const [sent, eventId] of toResend) {
      const res = await post(sent, eventId);
      expect(res.status).toBe(202);
      expect(res.json.eventId).toBe(eventId);
    }
    const batch202 = await postBatch([
      { eventType: "o.e", payload: { n: 100 }, id: eventIds[0] },
      { eventType: "o.e", payload: { n: 101 }, id: eventIds[1] },
    ]);
    expect(batch202.status).toBe(202);
    const { results } = (await batch202.json()) as { results: { eventId: string }[] };
    expect(results.map((result) => result.eventId)).toEqual(eventIds);
    acceptedIds.push(...eventIds);

    // At least once: a task in flight when NATS died may be delivered twice, so wait for every
    // accepted id rather than for a count.
    const delivered = () => new Set(sink.deliveries("/outage").map((d) => d.webhookId));
    await pollUntil(async () => acceptedIds.every((id) => delivered().has(id)), {
      timeoutMs: 30_000,
      what: "every accepted event delivered",
      detail: () => `missing: ${acceptedIds.filter((id) => !delivered().has(id)).join(", ")}`,
    });
    expect(acceptedIds.filter((id) => !delivered().has(id))).toEqual([]);
    expect(sink.deliveries("/outage").every((delivery) => delivery.verified)).toBe(true);
    // The webhook of each resent event carries the id its 503 named, and the payload sent then.
    for (const [sent, eventId] of toResend) {
      const webhook = sink.deliveries("/outage").find((d) => d.webhookId === eventId);
      expect(webhook?.body).toContain(`"n":${sent}`);
    }
  });
});
