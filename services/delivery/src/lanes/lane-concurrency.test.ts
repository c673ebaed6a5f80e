import { describe, expect, it } from "vitest";
import { laneConcurrency } from "./lane-concurrency";

describe("laneConcurrency", () => {
  it("gives the retry lane its share and the fresh lane the rest", () => {
    expect(laneConcurrency(256, 0.25)).toEqual({ fresh: 192, retry: 64 });
    expect(laneConcurrency(10, 0.25)).toEqual({ fresh: 8, retry: 2 });
  });

  it("keeps at least one slot in each lane", () => {
    expect(laneConcurrency(4, 0.01)).toEqual({ fresh: 3, retry: 1 });
    expect(laneConcurrency(2, 0.99)).toEqual({ fresh: 1, retry: 1 });
    expect(laneConcurrency(1, 0.5)).toEqual({ fresh: 1, retry: 1 });
  });
});
