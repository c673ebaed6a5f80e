import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { incomingLetter } from "../testing/letters";
import { createBatchedLetterStore } from "./batched-store";

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_batched" });
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.reset();
});

const audit = () =>
  h.database.db
    .selectFrom("dead_letter_audit")
    .select(["dead_letter_id", "action", "actor", "details"])
    .execute();

describe("the batched letter store", () => {
  it("stores a turn's new letters with one audit entry each, and merges the rest", async () => {
    const store = createBatchedLetterStore(h.database.db);
    const fresh = Array.from({ length: 20 }, () => incomingLetter());
    const first = fresh[0];
    if (first === undefined) throw new Error("no letters");
    const laterDeath = incomingLetter({
      taskId: first.taskId,
      deadAt: new Date(first.deadAt.getTime() + 5_000),
      attemptCount: 2,
      attempts: [
        ...first.attempts,
        { n: 2, at: first.deadAt.getTime() + 4_000, result: "http_error", status: 500, ms: 7 },
      ],
    });
    const invalid = incomingLetter({ reason: "invalid_message", invalid: "bad header" });

    // All in one turn: one statement for the new ones, the rest one by one.
    const outcomes = await Promise.all([
      ...fresh.map((letter) => store(letter, "https://a.example/hook")),
      store(laterDeath, null),
      store(invalid, null),
    ]);

    expect(outcomes.slice(0, 20).map((o) => o.outcome)).toEqual(Array(20).fill("stored"));
    expect(outcomes[20]).toMatchObject({ outcome: "died_again", id: outcomes[0]?.id });
    expect(outcomes[21]?.outcome).toBe("stored");

    const rows = await h.database.db
      .selectFrom("dead_letters")
      .select(["id", "task_id", "endpoint_url", "attempt_count", "attempts"])
      .execute();
    expect(rows).toHaveLength(21);
    const merged = rows.find((row) => row.task_id === first.taskId);
    expect(merged).toMatchObject({ id: outcomes[0]?.id, attempt_count: 2 });
    expect(merged?.attempts).toHaveLength(2);
    expect(rows.find((row) => row.task_id === fresh[5]?.taskId)?.endpoint_url).toBe(
      "https://a.example/hook",
    );

    const entries = await audit();
    const stored = entries.filter((entry) => entry.action === "stored");
    expect(stored).toHaveLength(21);
    expect(new Set(stored.map((entry) => entry.dead_letter_id)).size).toBe(21);
    expect(stored.find((e) => e.dead_letter_id === outcomes[1]?.id)).toEqual({
      dead_letter_id: outcomes[1]?.id,
      action: "stored",
      actor: "dlq-store",
      details: { reason: "exhausted" },
    });
    expect(stored.find((e) => e.dead_letter_id === outcomes[21]?.id)?.details).toEqual({
      reason: "invalid_message",
      error: "bad header",
    });
    expect(entries.filter((entry) => entry.action === "died_again")).toHaveLength(1);
  });

  it("answers a letter stored twice in one turn as a duplicate", async () => {
    const store = createBatchedLetterStore(h.database.db);
    const letter = incomingLetter();
    const [a, b] = await Promise.all([store(letter, null), store({ ...letter }, null)]);
    expect(a?.outcome).toBe("stored");
    expect(b).toEqual({ outcome: "duplicate", id: a?.id });
  });

  it("fails every letter of a batch whose statement fails", async () => {
    const store = createBatchedLetterStore(h.database.db);
    // A NUL in text is refused by Postgres: the whole statement fails, nothing is half-stored.
    const bad = incomingLetter({ eventType: "order\u0000created" });
    const results = await Promise.allSettled([store(incomingLetter(), null), store(bad, null)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await audit()).toHaveLength(0);
  });
});
