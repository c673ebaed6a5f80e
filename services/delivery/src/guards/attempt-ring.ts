import type { AttemptResult, RecentAttempt } from "@hookline/contracts";

/** Attempts kept per endpoint for operators' health reads. */
export const RECENT_ATTEMPTS = 10;

interface Slot {
  /** Epoch milliseconds. */
  at: number;
  result: AttemptResult;
  /** 0: no HTTP status. */
  status: number;
  ms: number;
}

/**
 * An endpoint's last few attempts. Recording writes into a slot allocated once, so the send
 * path costs a few assignments per attempt; only a health read builds objects.
 */
export interface AttemptRing {
  record(at: number, result: AttemptResult, status: number | undefined, ms: number): void;
  /** Newest first. */
  recent(): RecentAttempt[];
}

export function createAttemptRing(size = RECENT_ATTEMPTS): AttemptRing {
  const slots: Slot[] = [];
  let next = 0;
  return {
    record(at, result, status, ms) {
      let slot = slots[next];
      if (slot === undefined) {
        slot = { at, result, status: 0, ms };
        slots[next] = slot;
      }
      slot.at = at;
      slot.result = result;
      slot.status = status ?? 0;
      slot.ms = ms;
      next = (next + 1) % size;
    },
    recent() {
      const out: RecentAttempt[] = [];
      for (let i = 1; i <= slots.length; i++) {
        const slot = slots[(next - i + size) % size];
        if (slot === undefined) continue;
        out.push({
          at: new Date(slot.at).toISOString(),
          result: slot.result,
          ...(slot.status === 0 ? {} : { status: slot.status }),
          ms: slot.ms,
        });
      }
      return out;
    },
  };
}
