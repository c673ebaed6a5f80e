import { describe, expect, it } from "vitest";
import { createAckFrontier } from "./ack-frontier";

describe("the ack frontier", () => {
  it("offers the last of a run of records done in order, once", () => {
    const frontier = createAckFrontier<string>(10);
    for (const seq of [11, 12, 13]) frontier.done(seq, `m${seq}`);
    expect(frontier.through).toBe(13);
    expect(frontier.take()).toBe("m13");
    expect(frontier.take()).toBeUndefined();
  });

  it("acks nothing past a record it does not have, and catches up when it comes", () => {
    const frontier = createAckFrontier<string>(0);
    frontier.done(1, "m1");
    // 2 is held elsewhere: 3 and 4 wait for it.
    frontier.done(3, "m3");
    frontier.done(4, "m4");
    expect(frontier.through).toBe(1);
    expect(frontier.waiting).toBe(2);
    expect(frontier.take()).toBe("m1");
    frontier.done(5, "m5");
    expect(frontier.take()).toBeUndefined();
    expect([...frontier.waitingItems()]).toEqual(["m3", "m4", "m5"]);

    frontier.done(2, "m2");
    expect(frontier.through).toBe(5);
    expect(frontier.waiting).toBe(0);
    expect(frontier.take()).toBe("m5");
  });

  it("takes the highest record at or below the frontier when redeliveries come out of order", () => {
    const frontier = createAckFrontier<string>(0);
    frontier.done(2, "m2");
    frontier.done(1, "m1");
    expect(frontier.take()).toBe("m2");
    // Delivered again after it was done (its ack was not applied): acked again.
    frontier.done(1, "m1 again");
    expect(frontier.take()).toBe("m1 again");
  });

  it("skips records acked elsewhere or gone from the stream, and keeps what waits past them", () => {
    const frontier = createAckFrontier<string>(0);
    frontier.done(3, "m3");
    frontier.done(6, "m6");
    frontier.done(7, "m7");
    frontier.skipTo(4);
    expect(frontier.through).toBe(4);
    expect(frontier.take()).toBeUndefined();
    expect([...frontier.waitingItems()]).toEqual(["m6", "m7"]);
    frontier.skipTo(5);
    expect(frontier.through).toBe(7);
    expect(frontier.take()).toBe("m7");
    // A floor below the frontier changes nothing.
    frontier.skipTo(2);
    expect(frontier.through).toBe(7);
  });

  it("forgets the waiting records it gave back", () => {
    const frontier = createAckFrontier<string>(0);
    frontier.done(2, "m2");
    frontier.clearWaiting();
    expect(frontier.waiting).toBe(0);
    frontier.done(1, "m1");
    expect(frontier.through).toBe(1);
  });
});
