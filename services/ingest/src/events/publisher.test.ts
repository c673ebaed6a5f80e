import { hooklineNames } from "@hookline/contracts";
import { createLogger, createServiceMetrics } from "@hookline/kit";
import type { JetStreamClient } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { createIngestMetrics } from "../metrics";
import { createEventPublisher } from "./publisher";

/** A publisher whose NATS is down; nothing here may reach JetStream. */
function disconnectedPublisher() {
  const js = new Proxy({} as JetStreamClient, {
    get() {
      throw new Error("JetStream used while disconnected");
    },
  });
  return createEventPublisher({
    js,
    names: hooklineNames("publisher_test"),
    cache: { subscribedTo: () => [] },
    isConnected: () => false,
    metrics: createIngestMetrics(createServiceMetrics("ingest"), () => undefined),
    logger: createLogger({ service: "ingest", level: "silent", pretty: false }),
    taskDeadlineMs: 60_000,
    maxEventBytes: 1_024,
  });
}

describe("event publisher", () => {
  it("decides ids before publishing, so an outage can name them", async () => {
    const publisher = disconnectedPublisher();
    expect(await publisher.publish({ eventType: "a.b", payload: 1, id: "given" })).toEqual({
      outcome: "unavailable",
      reason: "nats_disconnected",
      eventId: "given",
    });
    expect(await publisher.publish({ eventType: "a.b", payload: 1 }, "key-1")).toMatchObject({
      eventId: "key-1",
    });
    const batch = await publisher.publishBatch([
      { eventType: "a.b", payload: 1 },
      { eventType: "a.b", payload: 2, id: "second" },
    ]);
    expect(batch).toEqual({
      outcome: "unavailable",
      reason: "nats_disconnected",
      eventIds: [expect.stringMatching(/^evt_/), "second"],
    });
  });

  it("turns a payload JSON.stringify refuses into an outcome, naming the batch index", async () => {
    const publisher = disconnectedPublisher();
    // Not from a request body (the schema limits depth first), but nothing may become a 500.
    expect(await publisher.publish({ eventType: "a.b", payload: 1n })).toMatchObject({
      outcome: "unserialisable",
      error: expect.stringContaining("BigInt"),
    });
    expect(
      await publisher.publishBatch([
        { eventType: "a.b", payload: 1 },
        { eventType: "a.b", payload: { n: 2n } },
      ]),
    ).toMatchObject({ outcome: "unserialisable", index: 1 });
  });

  it("answers too_large before unavailable: a retry could never succeed", async () => {
    const publisher = disconnectedPublisher();
    expect(await publisher.publish({ eventType: "a.b", payload: "x".repeat(2_000) })).toMatchObject(
      { outcome: "too_large", limit: 1_024 },
    );
  });
});
