import type { EndpointRecord } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { endpointTransitionEvent } from "./endpoint-transitions";
import { actionOf } from "./ops-consumer";
import { opsSummary, opsWebhookEvent } from "./ops-webhook";

const EP = "ep_01JABCDEFGHJKMNPQRSTVWXYZA";
const record = (changes: Partial<EndpointRecord> = {}): EndpointRecord => ({
  id: EP,
  tenantId: "acme",
  url: "https://user:pw@hooks.example.com:8443/in?token=x",
  eventTypes: [],
  secrets: [{ value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: "2025-01-01T00:00:00Z" }],
  disabled: false,
  createdAt: "2025-01-01T00:00:00Z",
  updatedAt: "2025-01-01T00:00:00Z",
  ...changes,
});
const NOW = Date.parse("2026-11-30T23:00:00Z");

describe("endpointTransitionEvent", () => {
  it("turns a disabled flag set into endpoint.disabled, with the revision in its id", () => {
    const event = endpointTransitionEvent(
      {
        id: EP,
        revision: 42,
        previous: record(),
        current: record({ disabled: true, disabledReason: "answered 410 Gone" }),
      },
      NOW,
      "hookline",
    );
    expect(event).toEqual({
      id: `ops_endpoint.disabled_${EP}_r42`,
      kind: "endpoint.disabled",
      occurredAt: "2026-11-30T23:00:00.000Z",
      // The host only: a URL's credentials and query may hold secrets.
      data: {
        endpointId: EP,
        tenantId: "acme",
        host: "hooks.example.com:8443",
        reason: "answered 410 Gone",
      },
      link: { service: "ingest", path: `/v1/tenants/acme/endpoints/${EP}` },
    });
  });

  it("turns it cleared into endpoint.enabled", () => {
    const event = endpointTransitionEvent(
      { id: EP, revision: 43, previous: record({ disabled: true }), current: record() },
      NOW,
      "hookline",
    );
    expect(event?.kind).toBe("endpoint.enabled");
    expect(event?.id).toBe(`ops_endpoint.enabled_${EP}_r43`);
  });

  it("says nothing of other changes, creations, deletions, or the system tenant's endpoints", () => {
    const cases = [
      { previous: record(), current: record({ description: "x" }) },
      { previous: undefined, current: record({ disabled: true }) },
      { previous: record(), current: undefined },
      {
        previous: record({ tenantId: "hookline" }),
        current: record({ tenantId: "hookline", disabled: true }),
      },
    ];
    for (const change of cases) {
      expect(endpointTransitionEvent({ id: EP, revision: 1, ...change }, NOW, "hookline")).toBe(
        undefined,
      );
    }
  });
});

describe("opsWebhookEvent", () => {
  it("makes the webhook's type, id and payload: the facts, a summary and an absolute link", () => {
    const webhook = opsWebhookEvent(
      {
        id: "ops_task.dead_lettered_x_1",
        kind: "task.dead_lettered",
        occurredAt: "2026-11-30T23:01:00.000Z",
        data: { endpointId: EP, tenantId: "acme", count: 12, from: "23:00", to: "23:01" },
        link: { service: "dlq", path: `/v1/dead-letters?endpointId=${EP}` },
      },
      { ingest: "https://ingest.example.com", dlq: "https://dlq.example.com/" },
    );
    expect(webhook).toEqual({
      id: "ops_task.dead_lettered_x_1",
      eventType: "hookline.task.dead_lettered",
      payload: {
        endpointId: EP,
        tenantId: "acme",
        count: 12,
        from: "23:00",
        to: "23:01",
        occurredAt: "2026-11-30T23:01:00.000Z",
        summary: `endpoint ${EP} (tenant acme): 12 task(s) dead-lettered from 23:00 to 23:01`,
        link: `https://dlq.example.com/v1/dead-letters?endpointId=${EP}`,
      },
    });
  });

  it("summarises every kind in one line", () => {
    expect(
      opsSummary({
        kind: "endpoint.failure_rate",
        data: {
          endpointId: EP,
          rate: 0.5234,
          attempts: 40,
          window: "5m",
          threshold: 0.5,
          severity: "critical",
        },
      }),
    ).toBe(`endpoint ${EP}: 52.3 % of 40 attempts failed in the last 5m, past 50 % (critical)`);
    expect(opsSummary({ kind: "deadletters.threshold", data: { open: 51, threshold: 50 } })).toBe(
      "51 open dead letters, past the threshold of 50",
    );
    expect(opsSummary({ kind: "breaker.opened", data: { endpointId: EP } })).toMatch(/opened/);
  });
});

describe("actionOf", () => {
  it("acks what was stored, retries what NATS could not take, and sets aside what never fits", () => {
    expect(actionOf({ outcome: "accepted", eventId: "e", tasks: 0 })).toEqual({ action: "ack" });
    expect(actionOf({ outcome: "duplicate", eventId: "e", tasks: 1 })).toEqual({ action: "ack" });
    expect(actionOf({ outcome: "unavailable", reason: "stream_full", eventId: "e" })).toEqual({
      action: "retry",
    });
    expect(actionOf({ outcome: "too_large", bytes: 9, limit: 1 }).action).toBe("invalid");
  });
});
