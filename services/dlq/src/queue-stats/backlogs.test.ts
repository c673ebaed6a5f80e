import { hooklineNames } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { biggestBacklogs, type EndpointBacklog, endpointBacklogs } from "./backlogs";

const names = hooklineNames("hl");

describe("endpointBacklogs", () => {
  it("sums each endpoint's subjects over the three task streams, by lane and tier", () => {
    const backlogs = endpointBacklogs(names, {
      dispatch: { "hl.dispatch.fresh.ep_a": 5, "hl.dispatch.fresh.ep_b": 1 },
      dispatchRetry: {
        "hl.dispatch.retry.ep_a": 2,
        "hl.dispatch.overflow.ep_a": 3,
        "hl.dispatch.overflow.ep_c": 4,
      },
      retry: { "hl.retry.5s.ep_a": 1, "hl.retry.1h.ep_a": 6, "hl.retry.1h.ep_b": 2 },
    });
    expect(Object.fromEntries(backlogs)).toEqual({
      ep_a: {
        endpointId: "ep_a",
        fresh: 5,
        retry: 2,
        overflow: 3,
        delayed: 7,
        total: 17,
        delayedByTier: { "5s": 1, "1h": 6 },
      },
      ep_b: {
        endpointId: "ep_b",
        fresh: 1,
        retry: 0,
        overflow: 0,
        delayed: 2,
        total: 3,
        delayedByTier: { "1h": 2 },
      },
      ep_c: {
        endpointId: "ep_c",
        fresh: 0,
        retry: 0,
        overflow: 4,
        delayed: 0,
        total: 4,
        delayedByTier: {},
      },
    });
  });

  it("leaves out subjects of another shape", () => {
    const backlogs = endpointBacklogs(names, {
      dispatch: { "hl.dispatch.fresh.": 1, "other.dispatch.fresh.ep_a": 1 },
      dispatchRetry: { "hl.dispatch.elsewhere.ep_a": 1 },
      retry: { "hl.retry.5s": 1, "hl.retry.5s.": 1, "hl.retry..ep_a": 1 },
    });
    expect(backlogs.size).toBe(0);
  });
});

describe("biggestBacklogs", () => {
  const backlog = (endpointId: string, total: number): EndpointBacklog => ({
    endpointId,
    fresh: total,
    retry: 0,
    overflow: 0,
    delayed: 0,
    total,
    delayedByTier: {},
  });

  it("keeps the biggest, biggest first, ties by endpoint id", () => {
    const all = [
      backlog("ep_d", 2),
      backlog("ep_b", 5),
      backlog("ep_c", 5),
      backlog("ep_a", 1),
      backlog("ep_e", 9),
    ];
    expect(biggestBacklogs(all, 3).map((b) => b.endpointId)).toEqual(["ep_e", "ep_b", "ep_c"]);
    expect(biggestBacklogs(all, 10)).toHaveLength(5);
  });
});
