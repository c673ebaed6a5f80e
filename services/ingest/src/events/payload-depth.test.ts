import { describe, expect, it } from "vitest";
import { MAX_PAYLOAD_DEPTH, nestsAtMost } from "./payload-depth";

/** `levels` arrays inside each other, as JSON text, parsed the way a request body is. */
const nestedArrays = (levels: number): unknown =>
  JSON.parse(`${"[".repeat(levels)}${"]".repeat(levels)}`);
const nestedObjects = (levels: number): unknown =>
  JSON.parse(`${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`);

describe("nestsAtMost", () => {
  it.each([
    ["a scalar", 1, 0, true],
    ["null", null, 0, true],
    ["an empty object", {}, 1, true],
    ["an empty object", {}, 0, false],
    ["a flat object", { a: 1, b: "x", c: null }, 1, true],
    ["an object in an array", [{ a: 1 }], 1, false],
    ["an object in an array", [{ a: 1 }], 2, true],
    ["a deep branch beside shallow ones", { a: 1, b: [1, [2, [3]]], c: {} }, 3, false],
    ["a deep branch beside shallow ones", { a: 1, b: [1, [2, [3]]], c: {} }, 4, true],
  ])("%s (%j) within %i levels: %s", (_, value, max, expected) => {
    expect(nestsAtMost(value, max)).toBe(expected);
  });

  it(`takes ${MAX_PAYLOAD_DEPTH} levels and refuses one more, arrays and objects alike`, () => {
    expect(nestsAtMost(nestedArrays(MAX_PAYLOAD_DEPTH))).toBe(true);
    expect(nestsAtMost(nestedArrays(MAX_PAYLOAD_DEPTH + 1))).toBe(false);
    expect(nestsAtMost(nestedObjects(MAX_PAYLOAD_DEPTH))).toBe(true);
    expect(nestsAtMost(nestedObjects(MAX_PAYLOAD_DEPTH + 1))).toBe(false);
  });

  it("checks values deep enough to overflow JSON.stringify without overflowing itself", () => {
    const deep = nestedArrays(200_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(nestsAtMost(deep)).toBe(false);
    expect(nestsAtMost(deep, 300_000)).toBe(true);
  });
});
