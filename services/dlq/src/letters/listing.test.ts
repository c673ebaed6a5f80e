import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NewDeadLetterRow } from "../db/schema";
import type { PublicDeadLetter } from "../http/letter-schemas";
import { bodyOf, type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { endpointId, incomingLetter } from "../testing/letters";
import { newDeadLetterId } from "./letter-id";

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_paging" });
});
afterAll(async () => {
  await h?.close();
});

const base = Date.parse("2025-04-01T00:00:00.000Z");
const INITIAL = 2_500;

function row(index: number, deadAt: Date): NewDeadLetterRow {
  return {
    id: newDeadLetterId(deadAt.getTime()),
    task_id: `evt_page_${index}:${endpointId(1)}`,
    event_id: `evt_page_${index}`,
    event_type: "order.created",
    endpoint_id: endpointId(1),
    endpoint_url: null,
    reason: "exhausted",
    attempt_count: 1,
    last_status: 500,
    last_error: null,
    created_at: deadAt,
    dead_at: deadAt,
    body: Buffer.from("{}"),
    headers: "{}",
    attempts: "[]",
    updated_at: deadAt,
  };
}

describe("paging while letters arrive", () => {
  it("sees every letter that existed at the start exactly once", async () => {
    // Ten letters share each second, so the id alone must order them within one.
    const initial = Array.from({ length: INITIAL }, (_, i) =>
      row(i, new Date(base + Math.floor(i / 10) * 1_000)),
    );
    for (let offset = 0; offset < initial.length; offset += 500) {
      await h.database.db
        .insertInto("dead_letters")
        .values(initial.slice(offset, offset + 500))
        .execute();
    }
    const existing = new Set(initial.map((letter) => letter.id));

    // Meanwhile letters keep arriving: newer ones, and ones inside the range being paged,
    // including on the very timestamps the cursor sits on.
    let paging = true;
    let arrived = 0;
    const arrivals = (async () => {
      while (paging) {
        const second = arrived % 2 === 0 ? 300 : Math.floor(Math.random() * 250);
        await h.store(incomingLetter({ deadAt: new Date(base + second * 1_000) }));
        arrived++;
      }
    })();

    const seen = new Map<string, number>();
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const query = `?limit=97&endpointId=${endpointId(1)}${cursor === null ? "" : `&cursor=${cursor}`}`;
        const response = await h.call("GET", `/v1/dead-letters${query}`);
        expect(response.status).toBe(200);
        const page = await bodyOf<{ data: PublicDeadLetter[]; nextCursor: string | null }>(
          response,
        );
        for (const letter of page.data) seen.set(letter.id, (seen.get(letter.id) ?? 0) + 1);
        cursor = page.nextCursor;
        pages++;
        // Let some arrivals land between pages.
        await new Promise((resolve) => setTimeout(resolve, 2));
      } while (cursor !== null);
    } finally {
      paging = false;
      await arrivals;
    }

    expect(arrived).toBeGreaterThan(0);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(INITIAL / 97));
    const missing = [...existing].filter((id) => !seen.has(id));
    const repeated = [...seen].filter(([, count]) => count > 1);
    expect(missing).toEqual([]);
    expect(repeated).toEqual([]);
  });
});
