import { pollUntil, startEmbeddedPostgres } from "@hookline/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { deadLetterMeta, publishDeadLetter } from "../testing/letters";

let h: DlqHarness;
beforeAll(async () => {
  // Embedded even when TEST_DATABASE_URL is set: only a server of our own can be paused.
  h = await startDlqHarness({ prefix: "dlq_outage", postgres: await startEmbeddedPostgres() });
  h.startStoring({ retryDelayMs: 300 });
});
afterAll(async () => {
  await h?.close();
});

const rowCount = async () =>
  Number(
    (
      await sql<{ count: string }>`select count(*) as count from dead_letters`.execute(
        h.database.db,
      )
    ).rows[0]?.count,
  );
const inStream = async () => (await h.jsm.streams.info(h.names.streams.deadletter)).state.messages;
const publish = (from: number, count: number) =>
  Promise.all(
    Array.from({ length: count }, (_, i) =>
      publishDeadLetter(h.js, h.names, deadLetterMeta({ eventId: `evt_outage_${from + i}` })),
    ),
  );

describe("when Postgres is down", () => {
  it("keeps letters in JetStream, turns not ready, and stores every one once it is back", {
    timeout: 60_000,
  }, async () => {
    await publish(0, 5);
    await pollUntil(async () => (await rowCount()) === 5 && (await inStream()) === 0, {
      timeoutMs: 10_000,
      what: "the first letters to be stored",
    });
    expect((await h.app.request("/readyz")).status).toBe(200);

    await h.pg.pause();
    await pollUntil(async () => (await h.app.request("/readyz")).status === 503, {
      timeoutMs: 10_000,
      what: "/readyz to report the database",
    });
    const readiness = await (await h.app.request("/readyz")).json();
    expect(readiness).toMatchObject({ checks: { database: false, nats: true } });

    await publish(5, 20);
    // Several redelivery rounds pass; nothing is acked, so nothing leaves the stream.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await inStream()).toBe(20);
    const listed = await h.call("GET", "/v1/dead-letters");
    expect(listed.status).toBe(503);
    expect(await listed.json()).toMatchObject({ code: "unavailable" });

    await h.pg.resume();
    await pollUntil(async () => (await inStream()) === 0, {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: "the waiting letters to be stored",
    });
    expect(await rowCount()).toBe(25);
    expect((await h.app.request("/readyz")).status).toBe(200);
    expect((await h.call("GET", "/v1/dead-letters?limit=200")).status).toBe(200);
  });
});
