import { decodeTask, Header } from "@hookline/contracts";
import { pollUntil } from "@hookline/testkit";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterDetail, PublicAuditEntry } from "../http/letter-schemas";
import { bodyOf, type DlqHarness, startDlqHarness, TEST_ACTOR } from "../testing/dlq-harness";
import {
  deadLetterMeta,
  endpointId,
  endpointUrl,
  incomingLetter,
  publishDeadLetter,
  putEndpoint,
} from "../testing/letters";

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_store" });
  await putEndpoint(h.kv, endpointId(1));
  await h.cache.waitForRevision(1);
  h.startStoring();
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.reset();
});

const rowCount = async () =>
  Number(
    (
      await sql<{ count: string }>`select count(*) as count from dead_letters`.execute(
        h.database.db,
      )
    ).rows[0]?.count,
  );

async function streamEmpty(): Promise<boolean> {
  const info = await h.jsm.consumers.info(h.names.streams.deadletter, h.names.consumers.dlqStore);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

async function waitStored(count: number) {
  await pollUntil(async () => (await rowCount()) >= count && (await streamEmpty()), {
    timeoutMs: 10_000,
    what: `${count} stored letters`,
  });
}

async function letterByTask(taskId: string) {
  return h.database.db
    .selectFrom("dead_letters")
    .selectAll()
    .where("task_id", "=", taskId)
    .executeTakeFirstOrThrow();
}

describe("dlq-store", () => {
  it("stores a letter once, however often it arrives", async () => {
    const meta = deadLetterMeta();
    // Two stream messages of the same death (the classifier published it twice).
    await publishDeadLetter(h.js, h.names, meta, undefined, "first");
    await publishDeadLetter(h.js, h.names, meta, undefined, "second");
    await waitStored(1);
    expect(await rowCount()).toBe(1);

    const row = await letterByTask(meta.taskId);
    expect(row).toMatchObject({
      event_id: meta.eventId,
      event_type: "order.created",
      endpoint_id: endpointId(1),
      endpoint_url: endpointUrl(endpointId(1)),
      reason: "non_retryable",
      status: "open",
      attempt_count: 2,
      last_status: 400,
      last_error: null,
      replay_count: 0,
    });
    expect(row.id).toMatch(/^dl_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(row.created_at.getTime()).toBe(meta.createdAt);
    expect(row.attempts).toEqual(meta.history);
    expect(row.headers[Header.reason]).toBe("non_retryable");
    expect(JSON.parse(row.body.toString("utf8"))).toMatchObject({ data: { id: meta.eventId } });

    // A redelivery of one message (same JetStream timestamp) is a duplicate too.
    const again = await h.store(
      incomingLetter({ taskId: meta.taskId, deadAt: row.dead_at, attempts: meta.history }),
    );
    expect(again).toEqual({ outcome: "duplicate", id: row.id });
    const audit = await bodyOf<{ data: PublicAuditEntry[] }>(
      await h.call("GET", `/v1/dead-letters/${row.id}/audit`),
    );
    expect(audit.data.map((entry) => entry.action)).toEqual(["stored"]);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(
      /hookline_dead_letters_stored_total\{reason="non_retryable",service="dlq"\} 1\n/,
    );
  });

  it("keeps no credentials from an endpoint URL stored before they were refused", async () => {
    const id = endpointId(7);
    const record = await putEndpoint(h.kv, id);
    const revision = await h.kv.put(
      id,
      JSON.stringify({ ...record, url: "https://alice:s3cr3t@hooks.example.com/in" }),
    );
    await h.cache.waitForRevision(revision);
    const meta = deadLetterMeta({ eventId: "evt_creds", endpointId: id });
    await publishDeadLetter(h.js, h.names, meta);
    await waitStored(1);
    expect((await letterByTask(meta.taskId)).endpoint_url).toBe("https://hooks.example.com/in");
  });

  it("reopens a replayed letter that dies again, appending its new attempts", async () => {
    const meta = deadLetterMeta({ eventId: "evt_again", reason: "exhausted", attempt: 2 });
    await publishDeadLetter(h.js, h.names, meta);
    await waitStored(1);
    const stored = await letterByTask(meta.taskId);

    const replayed = await h.call("POST", `/v1/dead-letters/${stored.id}/replay`, {});
    expect(replayed.status).toBe(202);
    const task = await h.jsm.streams.getMessage(h.names.streams.dispatchRetry, {
      last_by_subj: h.names.subjects.dispatchRetry(endpointId(1)),
    });
    const decoded = decodeTask(task?.header);
    if (!decoded.ok) throw new Error(decoded.error);

    // Delivery tried once more after the replay, and the classifier gave up again.
    const retryAt = Date.now();
    await publishDeadLetter(h.js, h.names, {
      ...decoded.value,
      attempt: 1,
      history: [
        ...(decoded.value.history ?? []),
        { n: 1, at: retryAt, result: "timeout", error: "timed out after 15000ms", ms: 15_000 },
      ],
      reason: "expired",
    });
    await pollUntil(async () => (await letterByTask(meta.taskId)).status === "open", {
      timeoutMs: 10_000,
      what: "the letter to reopen",
    });
    expect(await rowCount()).toBe(1);
    const reopened = await letterByTask(meta.taskId);
    expect(reopened).toMatchObject({
      id: stored.id,
      status: "open",
      reason: "expired",
      replay_count: 1,
      attempt_count: 1,
      last_status: null,
      last_error: "timed out after 15000ms",
    });
    expect(reopened.dead_at.getTime()).toBeGreaterThan(stored.dead_at.getTime());
    expect(reopened.attempts.map((attempt) => [attempt.n, attempt.result])).toEqual([
      [1, "http_error"],
      [2, "http_error"],
      [1, "timeout"],
    ]);

    const audit = await bodyOf<{ data: PublicAuditEntry[] }>(
      await h.call("GET", `/v1/dead-letters/${stored.id}/audit`),
    );
    expect(audit.data.map((entry) => [entry.action, entry.actor])).toEqual([
      ["stored", "dlq-store"],
      ["replayed", TEST_ACTOR],
      ["died_again", "dlq-store"],
    ]);
    expect(audit.data[2]?.details).toMatchObject({ previousStatus: "replayed", newAttempts: 1 });
  });

  it("stores undecodable and invalid messages raw, as invalid_message", async () => {
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]);
    // As kit's deadLetterInvalid republishes what another consumer could not decode.
    const forwarded = natsHeaders();
    forwarded.set(Header.taskId, "evt_bad:ep_nonsense");
    forwarded.set(Header.reason, "invalid_message");
    forwarded.set(Header.error, "Hookline-Attempt: a non-negative integer");
    forwarded.set("X-Custom", "kept");
    await h.js.publish(h.names.subjects.deadletterInvalid, binary, { headers: forwarded });
    // A letter on an endpoint subject whose headers don't decode, with no task id at all.
    const garbled = natsHeaders();
    garbled.set(Header.reason, "no_such_reason");
    const ack = await h.js.publish(h.names.subjects.deadletter(endpointId(1)), Buffer.from("{}"), {
      headers: garbled,
    });
    await waitStored(2);

    const forwardedRow = await letterByTask("evt_bad:ep_nonsense");
    expect(forwardedRow).toMatchObject({
      reason: "invalid_message",
      status: "open",
      event_id: null,
      endpoint_id: null,
      last_error: "Hookline-Attempt: a non-negative integer",
    });
    expect(Buffer.compare(forwardedRow.body, binary)).toBe(0);
    expect(forwardedRow.headers["X-Custom"]).toBe("kept");

    const garbledRow = await letterByTask(`invalid:${ack.seq}`);
    expect(garbledRow.reason).toBe("invalid_message");
    expect(garbledRow.last_error).toContain("Hookline-Task-Id");
    expect(garbledRow.headers[Header.reason]).toBe("no_such_reason");

    const detail = await bodyOf<DeadLetterDetail>(
      await h.call("GET", `/v1/dead-letters/${forwardedRow.id}`),
    );
    expect(detail).toMatchObject({ bodyEncoding: "base64", endpointId: null });
    expect(Buffer.from(detail.body, "base64")).toEqual(binary);
    const metrics = await (await h.app.request("/metrics")).text();
    // Only the letter this consumer could not decode counts as its invalid message.
    expect(metrics).toMatch(
      /hookline_invalid_messages_total\{consumer="dlq-store",service="dlq"\} 1\n/,
    );
    expect(metrics).toMatch(/hookline_dead_letters\{status="open",service="dlq"\} 2\n/);
  });
});
