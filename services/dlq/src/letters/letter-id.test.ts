import { describe, expect, it } from "vitest";
import { deadLetterIdPattern, newDeadLetterId } from "./letter-id";

describe("newDeadLetterId", () => {
  it("is dl_ and a ULID-shaped id that sorts by time", () => {
    const earlier = newDeadLetterId(1_700_000_000_000);
    const later = newDeadLetterId(1_700_000_000_001);
    expect(earlier).toMatch(deadLetterIdPattern);
    expect(earlier < later).toBe(true);
    // The same time prefix a ULID library gives for this instant.
    expect(newDeadLetterId(1_469_918_176_385).slice(3, 13)).toBe("01ARYZ6S41");
    expect(new Set(Array.from({ length: 1_000 }, () => newDeadLetterId(0))).size).toBe(1_000);
  });
});
