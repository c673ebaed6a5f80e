import { describe, expect, it } from "vitest";
import { hooklineNames, prefixSchema } from "./names";

describe("hooklineNames", () => {
  it("uses the prefix lower-case in subjects and upper-case in streams", () => {
    const names = hooklineNames("t1");
    expect(names.streams.dispatch).toBe("T1_DISPATCH");
    expect(names.subjects.dispatchFresh("ep_X")).toBe("t1.dispatch.fresh.ep_X");
    expect(names.subjects.retry("5s", "ep_X")).toBe("t1.retry.5s.ep_X");
    expect(names.subjects.deadletterInvalid).toBe("t1.deadletter.invalid");
    expect(names.kv.endpoints).toBe("t1_endpoints");
    expect(names.subjects.maxDeliveriesAdvisories).toEqual([
      "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.T1_DISPATCH.*",
      "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.T1_DISPATCH_RETRY.*",
    ]);
  });

  it("accepts only prefixes that are valid subject tokens and stream names", () => {
    expect(prefixSchema.safeParse("hookline").success).toBe(true);
    for (const bad of ["Hookline", "hook.line", "hook line", "1hook", "", "a>"]) {
      expect(prefixSchema.safeParse(bad).success).toBe(false);
    }
  });
});
