/**
 * Which events' bodies the log has stored, as far as this writer can tell without asking
 * Postgres. Each event's body is kept once, on the first row that brings it; every task of the
 * event, and every pass of a task before its first attempt, brings it again.
 *
 * It remembers the keys it stored lately (two generations of sets, the older dropped whole when
 * the newer fills: O(1) and bounded) and what that leaves it unsure of: an event created before
 * this writer began (an earlier writer may have stored its body), or no later than an event
 * whose key it has dropped. Records come about in the order their events were created, so under
 * a steady load nearly every key is certain, and only the others are looked up.
 */
export interface StoredBodies {
  /** "stored", "absent", or "unknown": then Postgres knows. */
  lookup(key: string, eventCreatedAt: number): "stored" | "absent" | "unknown";
  /** The body of this event is stored (its batch is committed). */
  add(key: string, eventCreatedAt: number): void;
}

export function createStoredBodies(options: {
  /** Keys kept per generation. */
  limit: number;
  /** Events created before this (epoch ms) may have been stored by another writer. */
  certainFrom: number;
}): StoredBodies {
  let current = new Set<string>();
  let previous = new Set<string>();
  let currentNewest = Number.NEGATIVE_INFINITY;
  let previousNewest = Number.NEGATIVE_INFINITY;
  /** The newest event whose key was dropped, or before certainFrom. */
  let uncertainThrough = options.certainFrom - 1;
  return {
    lookup(key, eventCreatedAt) {
      if (current.has(key) || previous.has(key)) return "stored";
      return eventCreatedAt > uncertainThrough ? "absent" : "unknown";
    },
    add(key, eventCreatedAt) {
      current.add(key);
      if (eventCreatedAt > currentNewest) currentNewest = eventCreatedAt;
      if (current.size < options.limit) return;
      uncertainThrough = Math.max(uncertainThrough, previousNewest);
      previous = current;
      previousNewest = currentNewest;
      current = new Set();
      currentNewest = Number.NEGATIVE_INFINITY;
    },
  };
}
