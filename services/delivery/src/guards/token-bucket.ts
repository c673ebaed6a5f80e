/** Whether a send may go now; when not, how long until the next token. */
export type TokenGrant = { outcome: "granted" } | { outcome: "denied"; retryAfterMs: number };

// One shared answer: a grant is the common case on the hot path.
const GRANTED: TokenGrant = Object.freeze({ outcome: "granted" });
const EPSILON = 1e-9;

/** Tokens a full bucket holds: a tenth of a second's worth, at least one. */
export function burstOf(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10));
}

export interface TokenBucket {
  readonly ratePerSecond: number;
  readonly capacity: number;
  take(): TokenGrant;
  /** Tokens in the bucket now, without taking one (for operators' health reads). */
  available(): number;
}

/**
 * An endpoint's rate limit in one delivery instance: holds at most a tenth of a second's worth
 * of tokens (at least one), refills continuously at `ratePerSecond` and starts full. Over any
 * span of T seconds it grants at most `capacity + rate × T`, so each second an endpoint limited
 * to 50/s receives 50 ± 5, even right after it was idle.
 *
 * `now` is a monotonic clock in milliseconds (performance.now; tests pass their own).
 */
export function createTokenBucket(ratePerSecond: number, now: () => number): TokenBucket {
  if (!(ratePerSecond > 0)) throw new RangeError(`rate must be positive, got ${ratePerSecond}`);
  const capacity = burstOf(ratePerSecond);
  const perMs = ratePerSecond / 1_000;
  let tokens = capacity;
  let refilledAt = now();
  const refill = () => {
    const at = now();
    if (at > refilledAt) {
      tokens = Math.min(capacity, tokens + (at - refilledAt) * perMs);
      refilledAt = at;
    }
  };
  return {
    ratePerSecond,
    capacity,
    available() {
      refill();
      return tokens;
    },
    take() {
      refill();
      // The tolerance absorbs floating-point drift from adding fractions of a token.
      if (tokens >= 1 - EPSILON) {
        tokens = Math.max(0, tokens - 1);
        return GRANTED;
      }
      return {
        outcome: "denied",
        retryAfterMs: Math.max(1, Math.ceil((1 - tokens) / perMs - EPSILON)),
      };
    },
  };
}
