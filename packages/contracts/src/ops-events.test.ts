import { describe, expect, it } from "vitest";
import { EVENT_ID_PATTERN } from "./ids";
import {
  decodeOpsEvent,
  encodeOpsEvent,
  minuteToken,
  OPS_EVENT_KINDS,
  type OpsEventMessage,
  opsEventId,
  opsEventType,
} from "./ops-events";

const event: OpsEventMessage = {
  id: opsEventId("endpoint.disabled", "ep_01JABCDEFGHJKMNPQRSTVWXYZA", "r12"),
  kind: "endpoint.disabled",
  occurredAt: "2026-11-30T23:41:00.000Z",
  data: { endpointId: "ep_01JABCDEFGHJKMNPQRSTVWXYZA", reason: "410 Gone" },
  link: { service: "ingest", path: "/v1/endpoints/ep_01JABCDEFGHJKMNPQRSTVWXYZA" },
};

describe("operational events", () => {
  it("names each kind's webhook type under hookline.", () => {
    expect(OPS_EVENT_KINDS.map(opsEventType)).toContain("hookline.task.dead_lettered");
  });

  it("makes deterministic ids that are event ids, whatever the parts hold", () => {
    const id = opsEventId("task.dead_lettered", "ep_01JABCDEFGHJKMNPQRSTVWXYZA", minuteToken(0));
    expect(id).toBe("ops_task.dead_lettered_ep_01JABCDEFGHJKMNPQRSTVWXYZA_1970-01-01T00:00Z");
    expect(opsEventId("deadletters.threshold", "a b/c", 50)).toBe(
      "ops_deadletters.threshold_a-b-c_50",
    );
    expect(EVENT_ID_PATTERN.test(id)).toBe(true);
  });

  it("buckets times by minute", () => {
    expect(minuteToken(Date.parse("2026-11-30T23:41:59.999Z"))).toBe("2026-11-30T23:41Z");
    expect(minuteToken(Date.parse("2026-11-30T23:42:00.000Z"))).toBe("2026-11-30T23:42Z");
  });

  it("round-trips a message and names what is wrong with a bad one", () => {
    expect(decodeOpsEvent(encodeOpsEvent(event))).toEqual({ ok: true, event });
    const bad = decodeOpsEvent(new TextEncoder().encode(JSON.stringify({ ...event, kind: "x" })));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/kind/);
    expect(decodeOpsEvent(new TextEncoder().encode("{")).ok).toBe(false);
  });
});
