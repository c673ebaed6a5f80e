import { describe, expect, it } from "vitest";
import { highestCrossing, levelOf } from "./crossings";
import { createDeadLetterTally } from "./dead-letter-tally";
import { deadLetteredEvent, failureRateEvent, thresholdEvent } from "./ops-events";

const EP = "ep_01JABCDEFGHJKMNPQRSTVWXYZA";
const MINUTE = Date.parse("2026-11-30T23:00:00.000Z");

describe("highestCrossing", () => {
  it("names the highest threshold reached from below, and nothing while staying above or falling", () => {
    expect(highestCrossing([50, 100], 0, 49)).toBeUndefined();
    expect(highestCrossing([50, 100], 49, 50)).toBe(50);
    expect(highestCrossing([50, 100], 10, 120)).toBe(100);
    expect(highestCrossing([50, 100], 60, 99)).toBeUndefined();
    expect(highestCrossing([50, 100], 120, 40)).toBeUndefined();
    expect(highestCrossing([0.2, 0.5], 0.1, 0.2)).toBe(0.2);
    expect(levelOf([50, 100], 75)).toBe(1);
  });
});

describe("the dead-letter tally", () => {
  it("counts per endpoint and minute, and gives out only minutes that ended", () => {
    const tally = createDeadLetterTally();
    for (let n = 0; n < 5; n++) tally.add(EP, "acme", MINUTE + n * 1_000);
    tally.add("ep_other", "globex", MINUTE + 59_999);
    tally.add(EP, "acme", MINUTE + 60_000);
    expect(tally.takeClosed(MINUTE + 59_999)).toEqual([]);
    const closed = tally.takeClosed(MINUTE + 60_000);
    expect(closed).toEqual([
      { endpointId: EP, tenantId: "acme", windowStart: MINUTE, count: 5 },
      { endpointId: "ep_other", tenantId: "globex", windowStart: MINUTE, count: 1 },
    ]);
    expect(tally.takeClosed(MINUTE + 60_000)).toEqual([]);
    // Unsent counts come back, and add to what arrived since.
    tally.putBack([closed[0] ?? { endpointId: "", tenantId: "", windowStart: 0, count: 0 }]);
    tally.add(EP, "acme", MINUTE + 1);
    expect(tally.takeClosed(MINUTE + 120_000)).toEqual([
      { endpointId: EP, tenantId: "acme", windowStart: MINUTE + 60_000, count: 1 },
      { endpointId: EP, tenantId: "acme", windowStart: MINUTE, count: 6 },
    ]);
  });
});

describe("the dlq's operational events", () => {
  it("name each fact so that instances agree: a minute, a threshold", () => {
    const dead = deadLetteredEvent(
      { endpointId: EP, tenantId: "acme", windowStart: MINUTE, count: 7 },
      60_000,
      "a1b2c3d4",
      MINUTE + 61_000,
    );
    expect(dead).toMatchObject({
      id: `ops_task.dead_lettered_${EP}_2026-11-30T23:00:00_a1b2c3d4`,
      data: {
        endpointId: EP,
        tenantId: "acme",
        count: 7,
        from: "2026-11-30T23:00:00.000Z",
        to: "2026-11-30T23:01:00.000Z",
      },
      link: { service: "dlq", path: `/v1/dead-letters?endpointId=${EP}&status=open` },
    });
    expect(thresholdEvent(51, 50, MINUTE + 5_000).id).toBe(
      "ops_deadletters.threshold_50_2026-11-30T23:00Z",
    );
    const endpoint = { endpointId: EP, tenantId: "acme", attempts: 40, failed: 9 };
    const warning = failureRateEvent(endpoint, 0.2, [0.2, 0.5], "5m", MINUTE);
    expect(warning.data).toMatchObject({ rate: 0.225, severity: "warning", window: "5m" });
    expect(failureRateEvent(endpoint, 0.5, [0.2, 0.5], "5m", MINUTE).data.severity).toBe(
      "critical",
    );
  });
});
