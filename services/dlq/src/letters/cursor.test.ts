import { describe, expect, it } from "vitest";
import { createCursorCodec, cursorKey } from "./cursor";

const position = {
  deadAt: new Date("2025-01-01T12:00:00.123Z"),
  id: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
};

describe("cursors", () => {
  it("round-trip a position", () => {
    const codec = createCursorCodec(cursorKey("a-long-enough-secret", []));
    expect(codec.decode(codec.encode(position))).toEqual(position);
  });

  it("reject altered payloads and signatures", () => {
    const codec = createCursorCodec(cursorKey("a-long-enough-secret", []));
    const cursor = codec.encode(position);
    const [payload = "", signature = ""] = cursor.split(".");
    const flipped = `${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`;
    expect(codec.decode(`${payload}.${flipped}`)).toBeUndefined();
    expect(codec.decode(`${payload}x.${signature}`)).toBeUndefined();
    expect(codec.decode(`${cursor}.extra`)).toBeUndefined();
    expect(codec.decode("")).toBeUndefined();
  });

  it("derive one key from the tokens, whatever their order, unless a secret is set", () => {
    const one = [{ token: "token-aaaaaaaa" }, { token: "token-bbbbbbbb" }];
    const two = [{ token: "token-bbbbbbbb" }, { token: "token-aaaaaaaa" }];
    expect(cursorKey(undefined, one)).toEqual(cursorKey(undefined, two));
    expect(cursorKey(undefined, one)).not.toEqual(cursorKey(undefined, [{ token: "other-token" }]));
    expect(cursorKey("a-long-enough-secret", one)).not.toEqual(cursorKey(undefined, one));
    const fromTokens = createCursorCodec(cursorKey(undefined, one));
    const otherInstance = createCursorCodec(cursorKey(undefined, two));
    expect(otherInstance.decode(fromTokens.encode(position))).toEqual(position);
  });
});
