import { describe, expect, it } from "vitest";
import { createPageCursors, cursorKey } from "./page-cursors";

const cursors = createPageCursors(cursorKey("a-long-enough-secret", []));
const payload = { at: "2025-01-01T12:00:00.123Z", id: "dl_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D" };

describe("page cursors", () => {
  it("open what they signed for the same list", () => {
    expect(cursors.open("letters", cursors.sign("letters", payload))).toEqual(payload);
  });

  it("refuse a cursor signed for another list", () => {
    expect(cursors.open("attempts", cursors.sign("letters", payload))).toBeUndefined();
  });

  it("refuse altered payloads and signatures, and what is not a cursor", () => {
    const cursor = cursors.sign("letters", payload);
    const [encoded = "", signature = ""] = cursor.split(".");
    const flipped = `${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`;
    const other = cursors.sign("letters", { ...payload, id: "dl_other" }).split(".")[0];
    for (const bad of [
      `${encoded}.${flipped}`,
      `${encoded}x.${signature}`,
      `${other}.${signature}`,
      `${cursor}.extra`,
      encoded,
      "",
      "x".repeat(5_000),
    ]) {
      expect(cursors.open("letters", bad), bad).toBeUndefined();
    }
  });

  it("refuse a cursor signed under another key", () => {
    const elsewhere = createPageCursors(cursorKey("another-secret-1", []));
    expect(elsewhere.open("letters", cursors.sign("letters", payload))).toBeUndefined();
  });

  it("derive one key from the tokens, whatever their order, unless a secret is set", () => {
    const one = [{ token: "token-aaaaaaaa" }, { token: "token-bbbbbbbb" }];
    const two = [{ token: "token-bbbbbbbb" }, { token: "token-aaaaaaaa" }];
    expect(cursorKey(undefined, one)).toEqual(cursorKey(undefined, two));
    expect(cursorKey(undefined, one)).not.toEqual(cursorKey(undefined, [{ token: "other-token" }]));
    expect(cursorKey("a-long-enough-secret", one)).not.toEqual(cursorKey(undefined, one));
    const fromTokens = createPageCursors(cursorKey(undefined, one));
    const otherInstance = createPageCursors(cursorKey(undefined, two));
    expect(otherInstance.open("letters", fromTokens.sign("letters", payload))).toEqual(payload);
  });
});
