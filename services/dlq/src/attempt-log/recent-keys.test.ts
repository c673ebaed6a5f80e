import { describe, expect, it } from "vitest";
import { createRecentKeys } from "./recent-keys";

describe("createRecentKeys", () => {
  it("knows the keys added lately and forgets the oldest past its limit", () => {
    const recent = createRecentKeys(3);
    for (const key of ["a", "b", "c"]) recent.add(key);
    expect(["a", "b", "c", "d"].map((key) => recent.has(key))).toEqual([true, true, true, false]);
    for (const key of ["d", "e"]) recent.add(key);
    expect(["a", "b", "c", "d", "e"].every((key) => recent.has(key))).toBe(true);
    // The newer generation fills: the older one goes whole, the last `limit` stay.
    recent.add("f");
    expect(["a", "b", "c", "d", "e", "f"].map((key) => recent.has(key))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
  });
});
