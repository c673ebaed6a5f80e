import { describe, expect, it } from "vitest";
import { burstOf, createTokenBucket, type TokenBucket } from "./token-bucket";

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function takeAll(bucket: TokenBucket, max = 1_000): number {
  let granted = 0;
  while (granted < max && bucket.take().outcome === "granted") granted++;
  return granted;
}

describe("token bucket", () => {
  it("starts full: a burst of a tenth of a second's worth, then denies", () => {
    const c = clock();
    const bucket = createTokenBucket(20, c.now);
    expect(takeAll(bucket)).toBe(2);
    expect(bucket.take()).toEqual({ outcome: "denied", retryAfterMs: 50 });
    expect(burstOf(50)).toBe(5);
    expect(burstOf(55)).toBe(6);
    expect(burstOf(3)).toBe(1);
  });

  it("says how long until the next token, and grants it then", () => {
    const c = clock();
    const bucket = createTokenBucket(4, c.now); // one token per 250 ms
    takeAll(bucket);
    c.advance(100);
    expect(bucket.take()).toEqual({ outcome: "denied", retryAfterMs: 150 });
    c.advance(149);
    expect(bucket.take()).toEqual({ outcome: "denied", retryAfterMs: 1 });
    c.advance(1);
    expect(bucket.take()).toEqual({ outcome: "granted" });
    expect(bucket.take()).toEqual({ outcome: "denied", retryAfterMs: 250 });
  });

  it("refills continuously, never above its capacity", () => {
    const c = clock();
    const bucket = createTokenBucket(100, c.now);
    takeAll(bucket);
    c.advance(50);
    expect(takeAll(bucket)).toBe(5);
    c.advance(60_000);
    expect(takeAll(bucket)).toBe(10);
  });

  it("grants at most capacity + rate × T over any span T", () => {
    const c = clock();
    const rate = 20;
    const bucket = createTokenBucket(rate, c.now);
    let granted = 0;
    // A task every millisecond for 3 s.
    for (let ms = 0; ms <= 3_000; ms++) {
      if (bucket.take().outcome === "granted") granted++;
      c.advance(1);
    }
    expect(granted).toBe(burstOf(rate) + rate * 3);
  });

  it("keeps every second within 10 % of the rate for a steady queue", () => {
    const c = clock(0);
    const rate = 50;
    const bucket = createTokenBucket(rate, c.now);
    const perSecond = new Map<number, number>();
    // A queue that always has a task ready, tried every millisecond for 20 s.
    for (let ms = 0; ms < 20_000; ms++) {
      if (bucket.take().outcome === "granted") {
        const second = Math.floor(ms / 1_000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      c.advance(1);
    }
    for (const [second, count] of perSecond) {
      expect(count, `second ${second}`).toBeGreaterThanOrEqual(rate * 0.9);
      expect(count, `second ${second}`).toBeLessThanOrEqual(rate * 1.1);
    }
  });

  it("keeps a burst of one for rates below one per second", () => {
    const c = clock();
    const bucket = createTokenBucket(0.5, c.now);
    expect(takeAll(bucket)).toBe(1);
    expect(bucket.take()).toEqual({ outcome: "denied", retryAfterMs: 2_000 });
  });

  it("ignores a clock that goes backwards", () => {
    const c = clock();
    const bucket = createTokenBucket(1, c.now);
    takeAll(bucket);
    c.advance(-5_000);
    expect(bucket.take().outcome).toBe("denied");
    c.advance(5_000 + 1_000);
    expect(bucket.take().outcome).toBe("granted");
  });

  it("refuses a rate that is not positive", () => {
    expect(() => createTokenBucket(0, () => 0)).toThrow(RangeError);
  });
});
