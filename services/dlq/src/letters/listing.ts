import type { Kysely } from "kysely";
import type { Database, DeadLetterRow } from "../db/schema";
import type { CursorCodec } from "../http/page-cursors";
import type { PagePosition } from "./cursor";
import { type LetterFilter, matchesFilter } from "./filter";
import { isDeadLetterId } from "./letter-id";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Everything but body, headers and attempts, which only the single-letter view returns. */
export const summaryColumns = [
  "id",
  "task_id",
  "event_id",
  "event_type",
  "endpoint_id",
  "tenant_id",
  "endpoint_url",
  "reason",
  "status",
  "attempt_count",
  "last_status",
  "last_error",
  "created_at",
  "dead_at",
  "replay_count",
  "resolved_at",
  "resolved_by",
  "note",
] as const;
export type LetterSummary = Pick<DeadLetterRow, (typeof summaryColumns)[number]>;

export type LetterPage =
  | { outcome: "page"; letters: LetterSummary[]; nextCursor: string | null }
  | { outcome: "invalid_cursor" };

/**
 * Newest first, by `(dead_at, id)` descending. Keyset paging: each page starts strictly after
 * the previous page's last row, so letters stored meanwhile never shift a page, and a listing
 * sees every letter that existed when it began exactly once (unless that letter died again,
 * which moves it to the front).
 */
export async function listLetters(
  db: Kysely<Database>,
  cursors: CursorCodec<PagePosition>,
  page: { filter: LetterFilter; cursor?: string | undefined; limit: number },
): Promise<LetterPage> {
  const after = page.cursor === undefined ? undefined : cursors.decode(page.cursor);
  if (page.cursor !== undefined && after === undefined) return { outcome: "invalid_cursor" };
  let query = db
    .selectFrom("dead_letters")
    .select(summaryColumns)
    .where((eb) => matchesFilter(eb, page.filter));
  if (after !== undefined) {
    query = query.where((eb) =>
      eb(eb.refTuple("dead_at", "id"), "<", eb.tuple(after.deadAt, after.id)),
    );
  }
  const rows = await query
    .orderBy("dead_at", "desc")
    .orderBy("id", "desc")
    .limit(page.limit + 1)
    .execute();
  const letters = rows.slice(0, page.limit);
  const last = letters.at(-1);
  const nextCursor =
    rows.length > page.limit && last !== undefined
      ? cursors.encode({ deadAt: last.dead_at, id: last.id })
      : null;
  return { outcome: "page", letters, nextCursor };
}

export type FoundLetter = { outcome: "found"; letter: DeadLetterRow } | { outcome: "not_found" };

export async function getLetter(db: Kysely<Database>, id: string): Promise<FoundLetter> {
  if (!isDeadLetterId(id)) return { outcome: "not_found" };
  const letter = await db
    .selectFrom("dead_letters")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return letter === undefined ? { outcome: "not_found" } : { outcome: "found", letter };
}
