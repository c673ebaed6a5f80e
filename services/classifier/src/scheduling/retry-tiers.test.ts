import { describe, expect, it } from "vitest";
import { parseRetryTiers, retryTierFor } from "./retry-tiers";

describe("parseRetryTiers", () => {
  it("keeps the configured text as the name and sorts shortest first", () => {
    expect(parseRetryTiers("30s, 5s,200ms,2h")).toEqual({
      ok: true,
      tiers: [
        { name: "200ms", ms: 200 },
        { name: "5s", ms: 5_000 },
        { name: "30s", ms: 30_000 },
        { name: "2h", ms: 7_200_000 },
      ],
    });
  });

  it("refuses names that are not valid subject tokens or durations", () => {
    expect(parseRetryTiers("1.5s").ok).toBe(false);
    expect(parseRetryTiers("5").ok).toBe(false);
    expect(parseRetryTiers("0s").ok).toBe(false);
    expect(parseRetryTiers("5s,abc").ok).toBe(false);
    expect(parseRetryTiers(" , ").ok).toBe(false);
  });

  it("refuses two names for the same duration", () => {
    const parsed = parseRetryTiers("60s,1m");
    expect(parsed).toEqual({ ok: false, error: '"1m" and "60s" are the same tier' });
  });
});

describe("retryTierFor", () => {
  const parsed = parseRetryTiers("5s,30s,2m,5m,30m,2h,5h,10h");
  if (!parsed.ok) throw new Error(parsed.error);
  const tiers = parsed.tiers;

  it("picks the shortest tier at least as long as the delay", () => {
    expect(retryTierFor(tiers, 0).name).toBe("5s");
    expect(retryTierFor(tiers, 5_000).name).toBe("5s");
    expect(retryTierFor(tiers, 5_001).name).toBe("30s");
    expect(retryTierFor(tiers, 60_000).name).toBe("2m");
    expect(retryTierFor(tiers, 36_000_000).name).toBe("10h");
  });

  it("uses the longest tier for delays beyond it", () => {
    expect(retryTierFor(tiers, 43_200_000).name).toBe("10h");
  });

  it("refuses an empty tier list", () => {
    expect(() => retryTierFor([], 1)).toThrow();
  });
});
