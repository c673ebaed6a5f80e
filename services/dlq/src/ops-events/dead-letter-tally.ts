/** One endpoint's dead letters stored in one window (a minute by default). */
export interface WindowCount {
  endpointId: string;
  tenantId: string;
  /** Start of the window, epoch ms. */
  windowStart: number;
  count: number;
}

/**
 * Counts the letters this instance stored, per endpoint and window, so that a storm becomes one
 * `task.dead_lettered` event per endpoint per window (OPS_DEADLETTER_WINDOW, a minute). Counting is a map increment per letter;
 * nothing is read or sent per letter.
 */
export interface DeadLetterTally {
  add(endpointId: string, tenantId: string, at: number): void;
  /** Removes and returns the counts of windows that ended at or before `now`. */
  takeClosed(now: number): WindowCount[];
  /** Puts back counts that could not be sent, to go with the next ones. */
  putBack(counts: WindowCount[]): void;
}

/** Windows kept for endpoints while the OPS stream refuses (NATS away): a bound, not a buffer. */
const MAX_KEYS = 10_000;

export function createDeadLetterTally(windowMs = 60_000): DeadLetterTally {
  const counts = new Map<string, WindowCount>();
  const keyOf = (endpointId: string, windowStart: number) => `${windowStart} ${endpointId}`;
  const add = (entry: WindowCount) => {
    const key = keyOf(entry.endpointId, entry.windowStart);
    const known = counts.get(key);
    if (known !== undefined) known.count += entry.count;
    else if (counts.size < MAX_KEYS) counts.set(key, { ...entry });
  };
  return {
    add(endpointId, tenantId, at) {
      add({ endpointId, tenantId, windowStart: Math.floor(at / windowMs) * windowMs, count: 1 });
    },
    takeClosed(now) {
      const closed: WindowCount[] = [];
      for (const [key, entry] of counts) {
        if (entry.windowStart + windowMs <= now) {
          closed.push(entry);
          counts.delete(key);
        }
      }
      return closed;
    },
    putBack(entries) {
      for (const entry of entries) add(entry);
    },
  };
}
