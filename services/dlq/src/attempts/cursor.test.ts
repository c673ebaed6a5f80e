import { describe, expect, it } from "vitest";
import { createPageCursors, cursorKey } from "../http/page-cursors";
import { letterCursorCodec } from "../letters/cursor";
import { attemptCursorCodec } from "./cursor";

const cursors = createPageCursors(cursorKey("a-long-enough-secret", []));
const codec = attemptCursorCodec(cursors);
const position = {
  attemptedAt: new Date("2025-03-01T12:00:00.123Z"),
  // as long as attempt ids get: a 128-character event id
  attemptId: `${"e".repeat(128)}:ep_01JD8Z6Q3V4W5X6Y7Z8A9B0001#12@123456789`,
};

describe("attempt cursors", () => {
  it("round-trip a position, however long its attempt id", () => {
    expect(codec.decode(codec.encode(position))).toEqual(position);
  });

  it("are not letter cursors, nor the reverse", () => {
    const letters = letterCursorCodec(cursors);
    const letterCursor = letters.encode({
      deadAt: position.attemptedAt,
      id: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
    });
    expect(codec.decode(letterCursor)).toBeUndefined();
    expect(letters.decode(codec.encode(position))).toBeUndefined();
  });
});
