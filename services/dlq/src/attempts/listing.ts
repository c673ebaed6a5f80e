import type { Kysely } from "kysely";
import { type AttemptRow, attemptRowColumns, type Database } from "../db/schema";
import type { CursorCodec } from "../http/page-cursors";
import type { AttemptPosition } from "./cursor";
import { type AttemptFilter, matchesAttemptFilter } from "./filter";

export const DEFAULT_ATTEMPT_PAGE_SIZE = 50;
export const MAX_ATTEMPT_PAGE_SIZE = 500;
/** An event's attempts come in one answer, up to this many (the oldest). */
export const MAX_EVENT_ATTEMPTS = 1_000;

export type AttemptPage =
  | { outcome: "page"; attempts: AttemptRow[]; nextCursor: string | null }
  | { outcome: "invalid_cursor" };

/**
 * Newest first, by `(attempted_at, attempt_id)` descending, with keyset paging as the letter
 * list does: each page starts strictly after the previous page's last row, so attempts logged
 * meanwhile never shift a page.
 */
export async function listAttempts(
  db: Kysely<Database>,
  cursors: CursorCodec<AttemptPosition>,
  page: { filter: AttemptFilter; cursor?: string | undefined; limit: number },
): Promise<AttemptPage> {
  const after = page.cursor === undefined ? undefined : cursors.decode(page.cursor);
  if (page.cursor !== undefined && after === undefined) return { outcome: "invalid_cursor" };
  const rows = await attemptPageQuery(db, page.filter, after, page.limit + 1).execute();
  const attempts = rows.slice(0, page.limit);
  const last = attempts.at(-1);
  const nextCursor =
    rows.length > page.limit && last !== undefined
      ? cursors.encode({ attemptedAt: last.attempted_at, attemptId: last.attempt_id })
      : null;
  return { outcome: "page", attempts, nextCursor };
}

/** The rows of a page, and one more when a next page exists (exported for its plan's test). */
export function attemptPageQuery(
  db: Kysely<Database>,
  filter: AttemptFilter,
  after: AttemptPosition | undefined,
  rows: number,
) {
  let query = db
    .selectFrom("attempts")
    .select(attemptRowColumns)
    .where((eb) => matchesAttemptFilter(eb, filter));
  if (after !== undefined) {
    query = query
      // The row comparison does not prune partitions; this bound on the key alone does.
      .where("attempted_at", "<=", after.attemptedAt)
      .where((eb) =>
        eb(
          eb.refTuple("attempted_at", "attempt_id"),
          "<",
          eb.tuple(after.attemptedAt, after.attemptId),
        ),
      );
  }
  return query.orderBy("attempted_at", "desc").orderBy("attempt_id", "desc").limit(rows);
}

export interface EventAttempts {
  /** Oldest first. */
  attempts: AttemptRow[];
  /** More than MAX_EVENT_ATTEMPTS were logged: only the oldest are here. */
  truncated: boolean;
}

/** Every attempt of every task of an event (of one tenant, or of all when none is named). */
export async function listEventAttempts(
  db: Kysely<Database>,
  event: { eventId: string; tenantId?: string | undefined },
  cap: number = MAX_EVENT_ATTEMPTS,
): Promise<EventAttempts> {
  const rows = await db
    .selectFrom("attempts")
    .select(attemptRowColumns)
    .where((eb) => matchesAttemptFilter(eb, event))
    .orderBy("attempted_at", "asc")
    .orderBy("attempt_id", "asc")
    .limit(cap + 1)
    .execute();
  return { attempts: rows.slice(0, cap), truncated: rows.length > cap };
}
