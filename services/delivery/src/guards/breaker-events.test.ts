import { describe, expect, it } from "vitest";
import { breakerOpsEvent } from "./breaker-events";

const EP = "ep_01JABCDEFGHJKMNPQRSTVWXYZA";
const NOW = Date.parse("2026-11-30T23:10:30.000Z");
const at = (from: "closed" | "open" | "half_open", to: "closed" | "open" | "half_open") =>
  breakerOpsEvent({ endpointId: EP, tenantId: "acme", from, to, now: NOW });

describe("breakerOpsEvent", () => {
  it("announces a closed breaker opening, and closing again, once per endpoint and minute", () => {
    expect(at("closed", "open")).toEqual({
      id: `ops_breaker.opened_${EP}_2026-11-30T23:10Z`,
      kind: "breaker.opened",
      occurredAt: "2026-11-30T23:10:30.000Z",
      data: { endpointId: EP, tenantId: "acme", from: "closed", to: "open" },
      link: { service: "ingest", path: `/v1/tenants/acme/endpoints/${EP}/health` },
    });
    expect(at("half_open", "closed")?.kind).toBe("breaker.closed");
    expect(at("open", "closed")?.kind).toBe("breaker.closed");
  });

  it("says nothing of probes: half-open, or a failed probe opening it again", () => {
    expect(at("open", "half_open")).toBeUndefined();
    expect(at("half_open", "open")).toBeUndefined();
  });
});
