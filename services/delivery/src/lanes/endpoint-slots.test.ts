import { afterEach, describe, expect, it, vi } from "vitest";
import { createEndpointSlots } from "./endpoint-slots";

afterEach(() => {
  vi.useRealTimers();
});

function slotsWithClock(drainMs: number) {
  let clock = 0;
  const started: string[] = [];
  const slots = createEndpointSlots<string>({
    maxHeldPerEndpoint: 2,
    maxHeld: 100,
    drainMs,
    now: () => clock,
    start: (item) => started.push(item),
  });
  return {
    slots,
    started,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

/**
 * The endpoint finishes `count` tasks while one more ("a") keeps running, so its state (and
 * rate) is kept; afterwards its cap is 1 and "a" holds it.
 */
function finish(slots: ReturnType<typeof slotsWithClock>["slots"], count: number) {
  expect(slots.admit("ep", 2, "a", true)).toBe("run");
  for (let i = 0; i < count; i++) {
    expect(slots.admit("ep", 2, `done-${i}`, true)).toBe("run");
    slots.done("ep");
  }
}

describe("endpoint slots", () => {
  it("moves the tasks of a full endpoint that finishes few tasks", () => {
    const { slots } = slotsWithClock(1_000);
    expect(slots.admit("ep", 1, "a", true)).toBe("run");
    expect(slots.admit("ep", 1, "b", true)).toBe("held");
    expect(slots.admit("ep", 1, "c", true)).toBe("held");
    expect(slots.admit("ep", 1, "d", true)).toBe("full");
    // Not movable (it came from the endpoint's own consumer): always held.
    expect(slots.admit("ep", 1, "e", false)).toBe("held");
  });

  it("lets a full endpoint that finishes tasks fast wait for room, in order", async () => {
    vi.useFakeTimers();
    const { slots, started, advance } = slotsWithClock(1_000);
    finish(slots, 40);
    advance(100);
    expect(slots.admit("ep", 1, "b", true)).toBe("held");
    expect(slots.admit("ep", 1, "c", true)).toBe("held");
    expect(slots.admit("ep", 1, "d", true)).toBe("wait");
    const d = slots.room("ep", "d", 1_000);
    expect(slots.admit("ep", 1, "e", true)).toBe("wait");
    const e = slots.room("ep", "e", 1_000);
    expect(slots.heldCount()).toBe(2);

    slots.done("ep"); // a: b starts, d gets its room
    await expect(d).resolves.toBe("held");
    expect(started).toEqual(["b"]);
    slots.done("ep"); // b: c starts, e gets its room
    await expect(e).resolves.toBe("held");
    slots.done("ep");
    slots.done("ep");
    expect(started).toEqual(["b", "c", "d", "e"]);
    expect(slots.heldCount()).toBe(0);
  });

  it("moves a waiting task after all when no room comes in time", async () => {
    vi.useFakeTimers();
    const { slots, advance } = slotsWithClock(1_000);
    finish(slots, 40);
    slots.admit("ep", 1, "b", true);
    slots.admit("ep", 1, "c", true);
    expect(slots.admit("ep", 1, "d", true)).toBe("wait");
    const d = slots.room("ep", "d", 1_000);
    vi.advanceTimersByTime(1_000);
    await expect(d).resolves.toBe("timeout");
    // Nothing finished for over a second: its next tasks are moved at once.
    advance(2_500);
    expect(slots.admit("ep", 1, "e", true)).toBe("full");
  });

  it("hands waiting tasks to shutdown with the held ones", async () => {
    vi.useFakeTimers();
    const { slots } = slotsWithClock(1_000);
    finish(slots, 40);
    slots.admit("ep", 1, "b", true);
    slots.admit("ep", 1, "c", true);
    expect(slots.admit("ep", 1, "d", true)).toBe("wait");
    const d = slots.room("ep", "d", 1_000);
    expect(slots.takeAllHeld()).toEqual(["b", "c", "d"]);
    await expect(d).resolves.toBe("taken");
  });

  it("never waits with drainMs 0", () => {
    const { slots } = slotsWithClock(0);
    finish(slots, 100);
    slots.admit("ep", 1, "b", true);
    slots.admit("ep", 1, "c", true);
    expect(slots.admit("ep", 1, "d", true)).toBe("full");
  });
});
