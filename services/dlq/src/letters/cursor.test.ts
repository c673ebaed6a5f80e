import { describe, expect, it } from "vitest";
import { createPageCursors, cursorKey } from "../http/page-cursors";
import { letterCursorCodec } from "./cursor";

const cursors = createPageCursors(cursorKey("a-long-enough-secret", []));
const codec = letterCursorCodec(cursors);
const position = {
  deadAt: new Date("2025-01-01T12:00:00.123Z"),
  id: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
};

describe("dead letter cursors", () => {
  it("round-trip a position", () => {
    expect(codec.decode(codec.encode(position))).toEqual(position);
  });

  it("refuse a signed payload that is not a letter position", () => {
    expect(codec.decode(cursors.sign("dead-letters", { deadAt: "yesterday", id: "x" }))).toBe(
      undefined,
    );
    expect(codec.decode(cursors.sign("dead-letters", { ...position, id: "x".repeat(101) }))).toBe(
      undefined,
    );
  });
});
