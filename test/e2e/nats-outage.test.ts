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
  it("answers 503, never 202, while NATS is down, and delivers every accepted event", {
    timeout: 90_000,
  }, async () => {
    const endpoint = await ingest.createEndpoint({ url: sink.url("/outage"), eventTypes: ["o.e"] });
    sink.setSecrets("/outage", [endpoint.secret]);

    const acceptedIds: string[] = [];
    const post = async (n: number) => {
      const res = await ingest.postEvent({ eventType: "o.e", payload: { n }, id: `evt-${n}` });
      if (res.status === 202) acceptedIds.push(String(res.json.eventId));
      return res;
    };

    for (let n = 0; n < 20; n++) expect((await post(n)).status).toBe(202);

    await nats.kill();
    const duringOutage: number[] = [];
    for (let n = 20; n < 40; n++) {
      const res = await post(n);
      duringOutage.push(res.status);
      if (res.status === 503) {
        expect(res.json).toMatchObject({ status: 503 });
      }
    }
    expect(duringOutage).toEqual(duringOutage.map(() => 503));

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
  });
});
