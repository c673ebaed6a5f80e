import { describe, expect, it } from "vitest";
import type { StreamState } from "./stream-states";
import { instanceHealth, type ServiceHealth, systemVerdict } from "./system-health";

const status = {
  service: "delivery",
  instanceId: "I1",
  version: "0.1.0",
  startedAt: "2026-11-30T12:00:00.000Z",
  uptimeSeconds: 12.5,
  ready: true,
  checks: { nats: true },
};
const stream: StreamState = {
  name: "HOOKLINE_DISPATCH",
  exists: true,
  messages: 0,
  bytes: 0,
  consumers: 1,
  maxBytes: -1,
  maxMessages: -1,
  discard: "new",
};

describe("instanceHealth", () => {
  const id = { instanceId: "I1", version: "0.1.0" };
  it("takes a status answer as it is, and anything else as not ready, saying why", () => {
    expect(instanceHealth({ ...id, outcome: "answered", body: status })).toEqual({
      answered: true,
      ...status,
    });
    expect(instanceHealth({ ...id, outcome: "answered", body: { ready: true } })).toEqual({
      ...id,
      answered: false,
      ready: false,
      error: "unreadable",
    });
    expect(instanceHealth({ ...id, outcome: "no_answer", reason: "timeout" })).toMatchObject({
      ready: false,
      error: "timeout",
    });
    expect(
      instanceHealth({ ...id, outcome: "refused", code: 500, description: "internal error" }),
    ).toMatchObject({ ready: false, error: "refused: internal error" });
  });
});

describe("systemVerdict", () => {
  const service = (name: ServiceHealth["service"], readiness: boolean[]): ServiceHealth => ({
    service: name,
    ready: readiness.some(Boolean),
    instances: readiness.map((ready, n) => ({
      answered: true,
      ...status,
      instanceId: `I${n}`,
      ready,
    })),
  });

  it("is ready when every service has a ready instance and every stream exists", () => {
    const services = [
      service("ingest", [true]),
      service("delivery", [true, false]),
      service("classifier", [true]),
      service("dlq", [false, true]),
    ];
    expect(systemVerdict(services, [stream])).toEqual([]);
  });

  it("names each service without a ready instance, and each missing stream", () => {
    const services = [
      service("ingest", [true]),
      service("delivery", []),
      service("classifier", [false, false]),
      service("dlq", [true]),
    ];
    expect(systemVerdict(services, [stream, { name: "HOOKLINE_RETRY", exists: false }])).toEqual([
      "delivery: no instance answered discovery",
      "classifier: no ready instance (2 seen)",
      "stream HOOKLINE_RETRY: missing",
    ]);
  });
});
