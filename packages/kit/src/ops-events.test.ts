import { OPS_EVENT_KINDS } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { opsEventKindsEnv } from "./ops-events";

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
