import { describe, expect, it } from "vitest";
import { createCursorCodec, cursorKey } from "../letters/cursor";
import { createAttemptCursorCodec } from "./cursor";

const letters = createCursorCodec(cursorKey("a-long-enough-secret", []));
const codec = createAttemptCursorCodec(letters);
const position = {
  attemptedAt: new Date("2025-03-01T12:00:00.123Z"),
  // as long as attempt ids get: a 128-character event id
  attemptId: `${"e".repeat(128)}:ep_01JD8Z6Q3V4W5X6Y7Z8A9B0001#12@123456789`,
};

describe("attempt cursors", () => {
  it("round-trip a position", () => {
    expect(codec.decode(codec.encode(position))).toEqual(position);
  });

  it("reject altered payloads, seals and signatures", () => {
    const cursor = codec.encode(position);
    const [payload = "", ...sealed] = cursor.split(".");
    const other = codec.encode({ ...position, attemptId: "evt_2:x#1@1" });
    const [otherPayload = ""] = other.split(".");
    // Another position's payload under this cursor's seal, and the reverse.
    expect(codec.decode([otherPayload, ...sealed].join("."))).toBeUndefined();
    expect(codec.decode(`${payload}.${other.split(".").slice(1).join(".")}`)).toBeUndefined();
    const signature = sealed[1] ?? "";
    const flipped = `${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`;
    expect(codec.decode(`${payload}.${sealed[0]}.${flipped}`)).toBeUndefined();
    expect(codec.decode(`${cursor}.extra`)).toBeUndefined();
    expect(codec.decode("")).toBeUndefined();
    expect(codec.decode("x".repeat(5_000))).toBeUndefined();
  });

  it("are not letter cursors, nor the reverse", () => {
    const letterCursor = letters.encode({
      deadAt: position.attemptedAt,
      id: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
    });
    expect(codec.decode(letterCursor)).toBeUndefined();
    expect(codec.decode(`x.${letterCursor}`)).toBeUndefined();
    const cursor = codec.encode(position);
    expect(letters.decode(cursor)).toBeUndefined();
  });

  it("are refused under another key", () => {
    const elsewhere = createAttemptCursorCodec(
      createCursorCodec(cursorKey("another-secret-1", [])),
    );
    expect(elsewhere.decode(codec.encode(position))).toBeUndefined();
  });
});
