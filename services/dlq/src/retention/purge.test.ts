import { pollUntil } from "@hookline/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterStatus } from "../db/schema";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { incomingLetter } from "../testing/letters";
import { purgeSettledLetters, startRetention } from "./purge";

const DAY_MS = 86_400_000;
const now = Date.parse("2025-06-01T00:00:00.000Z");

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_retention" });
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.reset();
});

/** A letter in `status`, settled (or, when open or replayed, dead) `daysAgo` days before now. */
async function letter(status: DeadLetterStatus, daysAgo: number): Promise<string> {
  const when = new Date(now - daysAgo * DAY_MS);
  const { id } = await h.store(incomingLetter({ deadAt: when }));
  const settled = status === "resolved" || status === "discarded";
  await h.database.db
    .updateTable("dead_letters")
    .set({ status, resolved_at: settled ? when : null, resolved_by: settled ? "ops" : null })
    .where("id", "=", id)
    .execute();
  return id;
}

const remaining = async () =>
  (await h.database.db.selectFrom("dead_letters").select("id").execute()).map((row) => row.id);

describe("retention", () => {
  it("purges resolved and discarded letters past the retention period, never open or replayed", async () => {
    const oldResolved = await letter("resolved", 31);
    const oldDiscarded = await letter("discarded", 45);
    const recentResolved = await letter("resolved", 29);
    const oldOpen = await letter("open", 400);
    const oldReplayed = await letter("replayed", 400);

    expect(await purgeSettledLetters(h.database.db, { retentionDays: 30, now })).toEqual({
      purged: 2,
    });
    expect((await remaining()).sort()).toEqual([recentResolved, oldOpen, oldReplayed].sort());
    // Their audit trails went with them.
    const orphans = await h.database.db
      .selectFrom("dead_letter_audit")
      .select("id")
      .where("dead_letter_id", "in", [oldResolved, oldDiscarded])
      .execute();
    expect(orphans).toEqual([]);
    expect(await purgeSettledLetters(h.database.db, { retentionDays: 30, now })).toEqual({
      purged: 0,
    });
  });

  it("runs on a schedule with its clock, and counts what it purged", async () => {
    let clock = now;
    const kept = await letter("resolved", 20);
    await letter("discarded", 40);
    const schedule = startRetention({
      db: h.database.db,
      logger: h.logger,
      metrics: h.dlqMetrics,
      retentionDays: 30,
      intervalMs: 50,
      firstRunDelayMs: 10,
      now: () => clock,
    });
    try {
      await pollUntil(async () => (await remaining()).length === 1, {
        timeoutMs: 5_000,
        what: "the first scheduled purge",
      });
      expect(await remaining()).toEqual([kept]);
      // Eleven days later the other one is past retention too.
      clock += 11 * DAY_MS;
      await pollUntil(async () => (await remaining()).length === 0, {
        timeoutMs: 5_000,
        what: "a later scheduled purge",
      });
    } finally {
      await schedule.stop();
    }
    const metrics = await (await h.app.request("/metrics")).text();
    expect(metrics).toMatch(/hookline_dlq_actions_total\{action="purged",service="dlq"\} 2\n/);
  });
});
