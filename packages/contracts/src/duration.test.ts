import { describe, expect, it } from "vitest";
import { parseDuration, parseDurationList } from "./duration";

describe("parseDuration", () => {
  it.each([
    ["200ms", 200],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
  ])("parses %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["5", "", "s", "5 minutes", "-5s", "5x"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("parseDurationList", () => {
  it("parses the default retry schedule", () => {
    expect(parseDurationList("5s,5m,30m,2h,5h,10h,10h")).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
  });
  it("rejects a list with one bad entry", () =>
    expect(parseDurationList("5s,soon")).toBeUndefined());
  it("rejects an empty list", () => expect(parseDurationList(" , ")).toBeUndefined());
});
