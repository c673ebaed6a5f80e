import { describe, expect, it } from "vitest";
import { createStoredBodies } from "./stored-bodies";

describe("createStoredBodies", () => {
  it("is sure of events created since it began, and unsure of those before", () => {
    const bodies = createStoredBodies({ limit: 10, certainFrom: 1_000 });
    expect(bodies.lookup("a", 1_000)).toBe("absent");
    expect(bodies.lookup("b", 999)).toBe("unknown");
    bodies.add("a", 1_000);
    bodies.add("b", 999);
    expect(bodies.lookup("a", 1_000)).toBe("stored");
    expect(bodies.lookup("b", 999)).toBe("stored");
  });

  it("is unsure of every event no later than one whose key it dropped", () => {
    const bodies = createStoredBodies({ limit: 2, certainFrom: 0 });
    bodies.add("a", 10);
    bodies.add("b", 30); // the first generation is full: kept as the older one
    bodies.add("c", 20);
    expect(["a", "b", "c"].map((key) => bodies.lookup(key, 1))).toEqual([
      "stored",
      "stored",
      "stored",
    ]);
    bodies.add("d", 40); // the second fills: a and b (newest 30) are dropped
    expect(bodies.lookup("a", 10)).toBe("unknown");
    expect(bodies.lookup("b", 30)).toBe("unknown");
    expect(bodies.lookup("x", 30)).toBe("unknown");
    expect(bodies.lookup("x", 31)).toBe("absent");
    expect(bodies.lookup("c", 20)).toBe("stored");
    expect(bodies.lookup("d", 40)).toBe("stored");
  });
});
