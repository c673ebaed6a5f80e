import { ulid } from "ulid";
import { describe, expect, it } from "vitest";
import { pooledRandom } from "./pooled-random";

describe("pooledRandom", () => {
  it("draws fractions in [0, 1) across refills, covering the range", () => {
    const random = pooledRandom(64);
    const draws = Array.from({ length: 10_000 }, random);
    expect(draws.every((value) => value >= 0 && value < 1)).toBe(true);
    const buckets = new Set(draws.map((value) => Math.floor(value * 32)));
    expect(buckets.size).toBe(32);
  });

  it("makes valid, distinct ULIDs", () => {
    const random = pooledRandom();
    const ids = Array.from({ length: 1_000 }, () => ulid(Date.now(), random));
    expect(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
