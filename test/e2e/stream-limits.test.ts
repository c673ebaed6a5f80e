import { hooklineNames } from "@hookline/contracts";
import { pollUntil, sleep } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";

const OUTCOMES_MAX_BYTES = 64 * 1024;
const BACKLOG_QUOTA = 20;

let e2e: E2eStackWithDlq;
let nc: NatsConnection;
const payload = { filler: "x".repeat(900) };

/** One stack per describe: each limit is set low only where it is under test. */
function withStack(env: Record<string, string>) {
  beforeAll(async () => {
    e2e = await startE2eStack({
      prefix: "limits",
      services: ["ingest", "delivery", "classifier", "dlq"],
      env: { RETRY_SCHEDULE: "200ms", RETRY_TIERS: "200ms,1s", ...env },
    });
    nc = await connect({ servers: e2e.nats.url });
  }, 120_000);
  afterAll(async () => {
    await nc?.drain();
    await e2e?.stop();
  });
}

/** Every letter for an endpoint, paged through with the cursor as an operator would. */
async function lettersOf(dlq: DlqClient, endpointId: string): Promise<DeadLetter[]> {
  const all: DeadLetter[] = [];
  let cursor: string | undefined;
  do {
    const page = await dlq.list({ endpointId, cursor, limit: 200 });
    expect(page.status).toBe(200);
    all.push(...page.json.data);
    cursor = page.json.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

async function postMany(eventType: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    const res = await e2e.ingest.postEvent({ id, eventType, payload });
    expect(res.status, `POST ${id}`).toBe(202);
  }
}

describe("OUTCOMES full while the classifier is down", () => {
  withStack({ OUTCOMES_MAX_BYTES: String(OUTCOMES_MAX_BYTES) });

  it("loses nothing while the classifier is down and failures pile past OUTCOMES' limit", {
    timeout: 120_000,
  }, async () => {
    const { sink, ingest, dlq, stack } = e2e;
    const path = "/limits-refuses";
    sink.setDefault(path, { status: 400 });
    const endpoint = await ingest.createEndpoint({
      url: sink.url(path),
      eventTypes: ["limits.refused"],
    });
    await stack.terminate("classifier");

    // ~1 KiB each: about twice what OUTCOMES may hold.
    const ids = Array.from({ length: 120 }, (_, i) => `limits-refused-${i}`);
    await postMany("limits.refused", ids);
    await sink.waitFor(ids.length, { path, timeoutMs: 30_000 });
    const jsm = await jetstreamManager(nc);
    const outcomes = await jsm.streams.info(hooklineNames("limits").streams.outcomes);
    // Full: the rest of the failures are held by delivery, their attempt already made.
    expect(outcomes.state.bytes).toBeGreaterThan(OUTCOMES_MAX_BYTES / 2);
    expect(outcomes.state.messages).toBeLessThan(ids.length);

    await stack.start("classifier");
    let letters: DeadLetter[] = [];
    await pollUntil(
      async () => {
        letters = await lettersOf(dlq, endpoint.id);
        return letters.length >= ids.length;
      },
      { timeoutMs: 60_000, what: "every failure dead-lettered", detail: () => `${letters.length}` },
    );
    expect(new Set(letters.map((letter) => letter.eventId))).toEqual(new Set(ids));
    expect(letters.every((letter) => letter.reason === "non_retryable")).toBe(true);
    // Each attempt was made once: holding an outcome never meant calling the endpoint again.
    await sleep(500);
    expect(sink.count(path)).toBe(ids.length);
  });
});

describe("an endpoint past its backlog quota", () => {
  withStack({ ENDPOINT_BACKLOG_QUOTA: String(BACKLOG_QUOTA) });

  it("dead-letters an endpoint's tasks past its quota as backlog_full; others go on", {
    timeout: 120_000,
  }, async () => {
    const { sink, ingest, dlq } = e2e;
    const slowPath = "/limits-slow";
    const fastPath = "/limits-fast";
    sink.setDefault(slowPath, { status: 200, delayMs: 500 });
    const slow = await ingest.createEndpoint({
      url: sink.url(slowPath),
      eventTypes: ["limits.slow"],
      maxInFlight: 4,
    });
    await ingest.createEndpoint({
      url: sink.url(fastPath),
      eventTypes: ["limits.fast"],
    });

    const slowIds = Array.from({ length: 150 }, (_, i) => `limits-slow-${i}`);
    await postMany("limits.slow", slowIds);
    const fastIds = Array.from({ length: 20 }, (_, i) => `limits-fast-${i}`);
    const started = Date.now();
    await postMany("limits.fast", fastIds);
    await sink.waitFor(fastIds.length, { path: fastPath, timeoutMs: 10_000 });
    const fastTook = Date.now() - started;

    // Every slow task ends delivered or dead-lettered as backlog_full, none both, none lost.
    let full: DeadLetter[] = [];
    const delivered = () => new Set(sink.deliveries(slowPath).map((d) => d.webhookId));
    await pollUntil(
      async () => {
        full = await lettersOf(dlq, slow.id);
        return delivered().size + full.length >= slowIds.length;
      },
      {
        timeoutMs: 60_000,
        what: "every slow task delivered or dead-lettered",
        detail: () => `${delivered().size} delivered, ${full.length} letters`,
      },
    );
    expect(full.length).toBeGreaterThan(0);
    expect(full.every((letter) => letter.reason === "backlog_full")).toBe(true);
    const lettered = new Set(full.map((letter) => letter.eventId));
    expect([...lettered].filter((id) => id !== null && delivered().has(id))).toEqual([]);
    expect(new Set([...delivered(), ...lettered])).toEqual(new Set(slowIds));
    // The other endpoint never waited behind it.
    expect(fastTook).toBeLessThan(10_000);
    expect(new Set(sink.deliveries(fastPath).map((d) => d.webhookId))).toEqual(new Set(fastIds));
  });
});
