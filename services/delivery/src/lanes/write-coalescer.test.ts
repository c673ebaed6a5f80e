import { describe, expect, it } from "vitest";
import { createWriteCoalescer } from "./write-coalescer";

describe("createWriteCoalescer", () => {
  it("runs writes deferred within a millisecond together, in order, after the turn", async () => {
    const coalescer = createWriteCoalescer(() => undefined);
    const ran: number[] = [];
    coalescer.defer(() => ran.push(1));
    await Promise.resolve();
    coalescer.defer(() => ran.push(2));
    expect(ran).toEqual([]);
    await coalescer.flushed();
    expect(ran).toEqual([1, 2]);
  });

  it("reports a failing write and still runs the others", async () => {
    const errors: unknown[] = [];
    const coalescer = createWriteCoalescer((error) => errors.push(error));
    const ran: number[] = [];
    coalescer.defer(() => {
      throw new Error("closed");
    });
    coalescer.defer(() => ran.push(2));
    await coalescer.flushed();
    expect(ran).toEqual([2]);
    expect(errors).toHaveLength(1);
  });

  it("runs afterWrites once after each run's writes, even when one failed", async () => {
    const ran: string[] = [];
    const coalescer = createWriteCoalescer(() => undefined, {
      afterWrites: () => ran.push("after"),
    });
    coalescer.defer(() => ran.push("a"));
    coalescer.defer(() => {
      throw new Error("closed");
    });
    coalescer.defer(() => ran.push("b"));
    await coalescer.flushed();
    coalescer.defer(() => ran.push("c"));
    await coalescer.flushed();
    expect(ran).toEqual(["a", "b", "after", "c", "after"]);
  });
});
