/**
 * The keys seen lately, at most about `limit` of them: two generations of sets, the older
 * dropped whole when the newer fills, so a lookup and an insert stay O(1) and memory bounded.
 */
export interface RecentKeys {
  has(key: string): boolean;
  add(key: string): void;
}

export function createRecentKeys(limit: number): RecentKeys {
  let current = new Set<string>();
  let previous = new Set<string>();
  return {
    has: (key) => current.has(key) || previous.has(key),
    add(key) {
      current.add(key);
      if (current.size < limit) return;
      previous = current;
      current = new Set();
    },
  };
}
