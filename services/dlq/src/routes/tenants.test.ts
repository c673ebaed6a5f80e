import { decodeTask, Header } from "@hookline/contracts";
import { pollUntil } from "@hookline/testkit";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { Migrator, sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase } from "../db/connection";
import { migrateToLatest } from "../db/migrate";
import { migrations } from "../db/migrations";
import type { DeadLetterDetail, PublicDeadLetter } from "../http/letter-schemas";
import { createPageCursors } from "../http/page-cursors";
import { letterCursorCodec } from "../letters/cursor";
import { listLetters } from "../letters/listing";
import { type LetterStats, letterStats } from "../letters/stats";
import { bodyOf, type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import {
  deadLetterMeta,
  endpointId,
  incomingLetter,
  publishDeadLetter,
  putEndpoint,
} from "../testing/letters";

type Page = { data: PublicDeadLetter[]; nextCursor: string | null };

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_tenant" });
  for (const n of [1, 2]) await putEndpoint(h.kv, endpointId(n));
  await h.cache.waitForRevision(2);
  h.startStoring();
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.reset();
});

const base = Date.parse("2025-03-01T00:00:00.000Z");
const at = (minutes: number) => new Date(base + minutes * 60_000);

async function seed(tenantId: string, minute: number, endpoint = endpointId(1)) {
  return (await h.store(incomingLetter({ tenantId, deadAt: at(minute), endpointId: endpoint }))).id;
}

async function ids(query: string): Promise<string[]> {
  const response = await h.call("GET", `/v1/dead-letters${query}`);
  expect(response.status).toBe(200);
  return (await bodyOf<Page>(response)).data.map((letter) => letter.id);
}

async function rowByTask(taskId: string) {
  return h.database.db
    .selectFrom("dead_letters")
    .selectAll()
    .where("task_id", "=", taskId)
    .executeTakeFirstOrThrow();
}

async function storedCount(count: number) {
  await pollUntil(
    async () => {
      const row = await sql<{ n: number }>`select count(*)::int as n from dead_letters`.execute(
        h.database.db,
      );
      const info = await h.jsm.consumers.info(
        h.names.streams.deadletter,
        h.names.consumers.dlqStore,
      );
      return row.rows[0]?.n === count && info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs: 10_000, what: `${count} stored letters` },
  );
}

describe("storing a letter's tenant", () => {
  it("takes Hookline-Tenant-Id, and the default tenant when a letter has none", async () => {
    const acme = deadLetterMeta({ eventId: "evt_acme", tenantId: "acme" });
    const old = deadLetterMeta({ eventId: "evt_old" });
    await publishDeadLetter(h.js, h.names, acme);
    await publishDeadLetter(h.js, h.names, old);
    await storedCount(2);
    expect((await rowByTask(acme.taskId)).tenant_id).toBe("acme");
    expect((await rowByTask(old.taskId)).tenant_id).toBe("default");
  });

  it("keeps an invalid letter's tenant when it is a valid id, else the default", async () => {
    const publishInvalid = (taskId: string, tenant: string) => {
      const headers = natsHeaders();
      headers.set(Header.taskId, taskId);
      headers.set(Header.tenantId, tenant);
      headers.set(Header.reason, "invalid_message");
      headers.set(Header.error, "Hookline-Attempt: a non-negative integer");
      return h.js.publish(h.names.subjects.deadletterInvalid, "raw", { headers });
    };
    await publishInvalid("evt_a:bad", "acme");
    await publishInvalid("evt_b:bad", "not a tenant/id");
    await publishInvalid("evt_c:bad", "..");
    await storedCount(3);
    expect((await rowByTask("evt_a:bad")).tenant_id).toBe("acme");
    expect((await rowByTask("evt_b:bad")).tenant_id).toBe("default");
    expect((await rowByTask("evt_c:bad")).tenant_id).toBe("default");
  });

  it("keeps the tenant when a replayed letter dies again (the merge path)", async () => {
    const meta = deadLetterMeta({ eventId: "evt_merge", tenantId: "acme", attempt: 2 });
    await publishDeadLetter(h.js, h.names, meta);
    await storedCount(1);
    const stored = await rowByTask(meta.taskId);
    expect((await h.call("POST", `/v1/dead-letters/${stored.id}/replay`, {})).status).toBe(202);
    const task = await h.jsm.streams.getMessage(h.names.streams.dispatchRetry, {
      last_by_subj: h.names.subjects.dispatchRetry(endpointId(1)),
    });
    const replayed = decodeTask(task?.header);
    if (!replayed.ok) throw new Error(replayed.error);
    expect(replayed.value.tenantId).toBe("acme");

    await publishDeadLetter(h.js, h.names, {
      ...replayed.value,
      attempt: 1,
      history: [
        ...(replayed.value.history ?? []),
        { n: 1, at: Date.now(), result: "timeout", ms: 1 },
      ],
      reason: "expired",
    });
    await pollUntil(async () => (await rowByTask(meta.taskId)).status === "open", {
      timeoutMs: 10_000,
      what: "the letter to reopen",
    });
    expect(await rowByTask(meta.taskId)).toMatchObject({
      id: stored.id,
      reason: "expired",
      tenant_id: "acme",
    });
  });

  it("takes a later valid death's tenant over an invalid letter's guess, never the reverse", async () => {
    const taskId = `evt_guess:${endpointId(1)}`;
    const invalid = (minute: number) =>
      incomingLetter({ taskId, deadAt: at(minute), reason: "invalid_message", invalid: "bad" });
    const first = await h.store(invalid(1));
    expect((await rowByTask(taskId)).tenant_id).toBe("default");
    const valid = incomingLetter({ taskId, deadAt: at(2), tenantId: "acme", attemptCount: 3 });
    expect(await h.store(valid)).toMatchObject({ outcome: "died_again", id: first.id });
    expect((await rowByTask(taskId)).tenant_id).toBe("acme");
    expect(await h.store({ ...invalid(3), attemptCount: 9 })).toMatchObject({
      outcome: "died_again",
    });
    expect((await rowByTask(taskId)).tenant_id).toBe("acme");
  });
});

describe("the API by tenant", () => {
  it("lists one tenant's letters with ?tenantId=, in page order, and shows the tenant", async () => {
    const a1 = await seed("acme", 1);
    const b1 = await seed("globex", 2);
    const a2 = await seed("acme", 3, endpointId(2));
    const d1 = await seed("default", 4);

    expect(await ids("?tenantId=acme")).toEqual([a2, a1]);
    expect(await ids("?tenantId=globex")).toEqual([b1]);
    expect(await ids("?tenantId=default")).toEqual([d1]);
    expect(await ids("?tenantId=nobody")).toEqual([]);
    expect(await ids(`?tenantId=acme&endpointId=${endpointId(2)}`)).toEqual([a2]);
    expect(await ids("")).toEqual([d1, a2, b1, a1]);

    // Paging keeps the filter.
    const first = await bodyOf<Page>(await h.call("GET", "/v1/dead-letters?tenantId=acme&limit=1"));
    expect(first.data.map((letter) => letter.id)).toEqual([a2]);
    expect(first.data[0]?.tenantId).toBe("acme");
    const second = await bodyOf<Page>(
      await h.call(
        "GET",
        `/v1/dead-letters?tenantId=acme&limit=1&cursor=${encodeURIComponent(first.nextCursor ?? "")}`,
      ),
    );
    expect(second.data.map((letter) => letter.id)).toEqual([a1]);
    expect(second.nextCursor).toBeNull();

    const detail = await bodyOf<DeadLetterDetail>(await h.call("GET", `/v1/dead-letters/${b1}`));
    expect(detail).toMatchObject({ id: b1, tenantId: "globex" });
  });

  it("refuses a malformed tenant id with a precise 400", async () => {
    for (const query of [
      "tenantId=a%2Fb",
      "tenantId=..",
      `tenantId=${"x".repeat(65)}`,
      "tenantId=",
    ]) {
      for (const path of ["/v1/dead-letters", "/v1/dead-letters/stats"]) {
        const response = await h.call("GET", `${path}?${query}`);
        expect(response.status, `${path}?${query}`).toBe(400);
        expect(response.headers.get("content-type")).toContain("application/problem+json");
        expect(JSON.stringify(await response.json())).toContain("tenantId");
      }
    }
    const bulk = await h.call("POST", "/v1/dead-letters/resolve", {
      filter: { tenantId: "a b" },
      note: "n",
    });
    expect(bulk.status).toBe(400);
    const groupBy = await h.call("GET", "/v1/dead-letters/stats?groupBy=planet");
    expect(groupBy.status).toBe(400);
    expect(JSON.stringify(await groupBy.json())).toContain("groupBy");
  });

  it("counts by tenant with groupBy=tenant, and filters stats by tenant", async () => {
    await seed("acme", 1);
    await seed("acme", 2, endpointId(2));
    await seed("globex", 3);
    await seed("default", 4);

    const plain = await bodyOf<LetterStats>(await h.call("GET", "/v1/dead-letters/stats"));
    expect(plain).not.toHaveProperty("byTenant");
    expect(plain.byStatus.open).toBe(4);

    const grouped = await bodyOf<LetterStats>(
      await h.call("GET", "/v1/dead-letters/stats?groupBy=tenant"),
    );
    expect(grouped.byTenant).toEqual({ acme: 2, globex: 1, default: 1 });
    expect(grouped.byStatus.open).toBe(4);

    const acme = await bodyOf<LetterStats>(
      await h.call("GET", "/v1/dead-letters/stats?tenantId=acme&groupBy=tenant"),
    );
    expect(acme).toMatchObject({
      byStatus: { open: 2 },
      byEndpoint: { [endpointId(1)]: 1, [endpointId(2)]: 1 },
      byTenant: { acme: 2 },
    });
  });

  it("replays a letter with its tenant in Hookline-Tenant-Id", async () => {
    const id = await seed("acme", 1, endpointId(2));
    expect((await h.call("POST", `/v1/dead-letters/${id}/replay`, {})).status).toBe(202);
    const msg = await h.jsm.streams.getMessage(h.names.streams.dispatchRetry, {
      last_by_subj: h.names.subjects.dispatchRetry(endpointId(2)),
    });
    expect(msg?.header.get(Header.tenantId)).toBe("acme");
    const task = decodeTask(msg?.header);
    expect(task.ok && task.value.tenantId).toBe("acme");
  });

  it("replays and resolves in bulk within one tenant only", async () => {
    const acme = [await seed("acme", 1), await seed("acme", 2)];
    const globex = [await seed("globex", 3), await seed("globex", 4)];
    const other = await seed("default", 5);
    const subject = h.names.subjects.dispatchRetry(endpointId(1));
    const queued = async () =>
      (await h.jsm.streams.info(h.names.streams.dispatchRetry, { subjects_filter: subject })).state
        .subjects?.[subject] ?? 0;
    const before = await queued();

    const replay = await h.call("POST", "/v1/dead-letters/replay", {
      filter: { tenantId: "acme" },
    });
    expect(await replay.json()).toEqual({ matched: 2, done: 2 });
    expect((await queued()) - before).toBe(2);
    expect(await ids("?status=replayed")).toEqual([...acme].reverse());

    const resolve = await h.call("POST", "/v1/dead-letters/resolve", {
      filter: { tenantId: "globex" },
      note: "tenant offboarded",
    });
    expect(await resolve.json()).toEqual({ matched: 2, done: 2 });
    expect(await ids("?status=resolved")).toEqual([...globex].reverse());
    expect(await ids("?status=open")).toEqual([other]);
  });

  it("adds no tenant label to any metric", async () => {
    await seed("acme", 1);
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).not.toMatch(/tenant/i);
  });
});

describe("migration 0002 on a database with letters", () => {
  it("adds tenant_id, reading every existing row as the default tenant", async () => {
    const name = `dlq_tenant_migration_${process.pid}`;
    await sql`create database ${sql.id(name)}`.execute(h.database.db);
    const url = new URL(h.pg.url);
    url.pathname = `/${name}`;
    const link = connectDatabase({ url: url.toString(), poolSize: 2, logger: h.logger });
    try {
      const migrator = new Migrator({
        db: link.db,
        provider: { getMigrations: async () => migrations },
      });
      const first = await migrator.migrateTo("0001-dead-letters");
      expect(first.error).toBeUndefined();
      // Rows as the version before tenants wrote them: no tenant_id column at all.
      for (const n of [1, 2, 3]) {
        await sql`
          insert into dead_letters (id, task_id, event_id, event_type, endpoint_id, reason,
            created_at, dead_at, body, updated_at)
          values (${`dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C${n}0`}, ${`evt_${n}:${endpointId(1)}`},
            ${`evt_${n}`}, 'order.created', ${endpointId(1)}, 'exhausted',
            ${at(n)}, ${at(n)}, ${Buffer.from("{}")}, ${at(n)})
        `.execute(link.db);
      }

      const migrated = await migrateToLatest(link.db);
      // 0002 and every later migration
      expect(migrated).toEqual({ outcome: "migrated", applied: Object.keys(migrations).slice(1) });
      const rows = await link.db.selectFrom("dead_letters").select("tenant_id").execute();
      expect(rows.map((row) => row.tenant_id)).toEqual(["default", "default", "default"]);
      const index = await sql<{ indexdef: string }>`
        select indexdef from pg_indexes where indexname = 'dead_letters_tenant_id_page_idx'
      `.execute(link.db);
      expect(index.rows[0]?.indexdef).toMatch(/\(tenant_id, dead_at DESC, id DESC\)/);

      const page = await listLetters(
        link.db,
        letterCursorCodec(createPageCursors(Buffer.alloc(32, 1))),
        {
          filter: { tenantId: "default" },
          limit: 10,
        },
      );
      expect(page.outcome === "page" && page.letters.length).toBe(3);
      expect((await letterStats(link.db, {}, ["tenant"])).byTenant).toEqual({ default: 3 });
    } finally {
      await link.destroy();
      await sql`drop database if exists ${sql.id(name)}`.execute(h.database.db);
    }
  });
});
