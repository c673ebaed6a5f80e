import { OPS_EVENT_KINDS } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { numberListEnv, opsEventKindsEnv } from "./ops-events";

describe("OPS_EVENTS", () => {
  it("takes all, none, or a list of kinds, and names a wrong one", () => {
    expect([...opsEventKindsEnv.parse(undefined)]).toEqual([...OPS_EVENT_KINDS]);
    expect(opsEventKindsEnv.parse("none").size).toBe(0);
    expect([...opsEventKindsEnv.parse("breaker.opened, endpoint.disabled")]).toEqual([
      "breaker.opened",
      "endpoint.disabled",
    ]);
    const bad = opsEventKindsEnv.safeParse("breaker.open");
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/"breaker.open" is not an operational event/);
  });
});

describe("numberListEnv", () => {
  it("sorts and dedupes, and refuses numbers out of bounds", () => {
    const thresholds = numberListEnv(1, 1_000_000, "50,100");
    expect(thresholds.parse(undefined)).toEqual([50, 100]);
    expect(thresholds.parse("100, 10,10")).toEqual([10, 100]);
    expect(thresholds.safeParse("0").success).toBe(false);
    expect(thresholds.safeParse("ten").success).toBe(false);
    expect(thresholds.safeParse("").success).toBe(false);
  });
});
