import { controlEndpoints, type EndpointGuardHealth } from "@hookline/contracts";
import { type ControlService, createLogger, startControlService } from "@hookline/kit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

const logger = createLogger({ service: "test", level: "silent", pretty: false });

let h: IngestHarness;
let nc: NatsConnection;

/** What a delivery instance keeps for an endpoint whose breaker opened. */
const openHealth: EndpointGuardHealth = {
  known: true,
  breaker: {
    state: "open",
    requests: 10,
    failures: 10,
    windowMs: 10_000,
    errorThresholdPercentage: 50,
    volumeThreshold: 10,
    openedAt: "2026-11-30T12:00:00.000Z",
    probeAt: "2026-11-30T12:01:00.000Z",
  },
  rateLimiter: null,
  lastAttempts: [{ at: "2026-11-30T12:00:00.000Z", result: "http_error", status: 500, ms: 3 }],
};

/**
 * A delivery instance over the harness's nats-server: its control service answers as
 * delivery's breaker control does, from a map standing in for its guards.
 */
async function deliveryInstance(states: Map<string, EndpointGuardHealth>) {
  const control = await startControlService({
    nc,
    prefix: h.names.prefix,
    service: "delivery",
    version: "0.1.0",
    readiness: {},
    logger,
  });
  const read = (data: Uint8Array) =>
    (JSON.parse(new TextDecoder().decode(data)) as { endpointId: string }).endpointId;
  const resets: string[] = [];
  await control.handle(controlEndpoints.breakerHealth, (data) => {
    const kept = states.get(read(data));
    return { ok: true, body: kept ?? { ...openHealth, known: false, lastAttempts: [] } };
  });
  await control.handle(controlEndpoints.breakerReset, (data) => {
    const endpointId = read(data);
    resets.push(endpointId);
    const previousState = states.get(endpointId)?.breaker.state ?? "closed";
    return { ok: true, body: { known: states.has(endpointId), previousState, state: "closed" } };
  });
  return { control, resets };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function createEndpoint(path = "/v1/endpoints"): Promise<string> {
  const response = await h.call("POST", path, { url: "https://example.com/hook" });
  expect(response.status).toBe(201);
  return (await json(response)).id as string;
}

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_breakers", controlTimeoutMs: 500 });
  nc = await connect({ servers: h.nats.url });
});
afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe("endpoint health and breaker reset", () => {
  it("answers 503 while no delivery instance runs", async () => {
    const id = await createEndpoint();
    for (const [method, path] of [
      ["GET", `/v1/endpoints/${id}/health`],
      ["POST", `/v1/endpoints/${id}/breaker/reset`],
    ] as const) {
      const response = await h.call(method, path);
      expect(response.status).toBe(503);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(await json(response)).toMatchObject({
        code: "unavailable",
        detail: "no delivery instance answered discovery over NATS",
      });
    }
  });

  it("reads every instance, resets it in every instance, and names one that stays silent", async () => {
    const id = await createEndpoint();
    const first = await deliveryInstance(new Map([[id, openHealth]]));
    const second = await deliveryInstance(new Map());
    let silent: ControlService | undefined;
    try {
      const health = await json(await h.call("GET", `/v1/endpoints/${id}/health`));
      expect(health.endpointId).toBe(id);
      const instances = health.instances as Record<string, unknown>[];
      expect(instances).toHaveLength(2);
      const byId = new Map(instances.map((entry) => [entry.instanceId, entry]));
      expect(byId.get(first.control.instanceId)).toEqual({
        instanceId: first.control.instanceId,
        version: "0.1.0",
        answered: true,
        ...openHealth,
      });
      expect(byId.get(second.control.instanceId)).toMatchObject({
        answered: true,
        known: false,
        lastAttempts: [],
      });

      const reset = await json(await h.call("POST", `/v1/endpoints/${id}/breaker/reset`));
      expect(reset.allReset).toBe(true);
      expect(first.resets).toEqual([id]);
      expect(second.resets).toEqual([id]);
      expect(
        new Map((reset.instances as Record<string, unknown>[]).map((e) => [e.instanceId, e])),
      ).toEqual(
        new Map([
          [
            first.control.instanceId,
            {
              instanceId: first.control.instanceId,
              version: "0.1.0",
              answered: true,
              known: true,
              previousState: "open",
              state: "closed",
            },
          ],
          [
            second.control.instanceId,
            {
              instanceId: second.control.instanceId,
              version: "0.1.0",
              answered: true,
              known: false,
              previousState: "closed",
              state: "closed",
            },
          ],
        ]),
      );

      // An instance found by discovery that never answers the request.
      silent = await startControlService({
        nc,
        prefix: h.names.prefix,
        service: "delivery",
        version: "0.1.0",
        readiness: {},
        logger,
      });
      await silent.handle(controlEndpoints.breakerReset, () => new Promise(() => {}));
      const partial = await json(await h.call("POST", `/v1/endpoints/${id}/breaker/reset`));
      expect(partial.allReset).toBe(false);
      expect(partial.instances).toContainEqual({
        instanceId: silent.instanceId,
        version: "0.1.0",
        answered: false,
        error: "timeout",
      });
    } finally {
      await Promise.all([first.control.stop(), second.control.stop(), silent?.stop()]);
    }
  });

  it("answers 404 for an unknown endpoint and for another tenant's", async () => {
    expect((await h.call("POST", "/v1/tenants", { id: "acme", name: "Acme" })).status).toBe(201);
    const acmeEndpoint = await createEndpoint("/v1/tenants/acme/endpoints");
    for (const [method, path] of [
      ["GET", "/v1/endpoints/ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D/health"],
      ["POST", "/v1/endpoints/ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D/breaker/reset"],
      ["GET", `/v1/endpoints/${acmeEndpoint}/health`],
      ["GET", `/v1/tenants/default/endpoints/${acmeEndpoint}/health`],
      ["POST", `/v1/endpoints/${acmeEndpoint}/breaker/reset`],
    ] as const) {
      const response = await h.call(method, path);
      expect(response.status).toBe(404);
      expect(await json(response)).toMatchObject({ code: "endpoint_not_found" });
    }
    const own = await h.call("GET", `/v1/tenants/acme/endpoints/${acmeEndpoint}/health`);
    // Found, and no delivery instance runs now: past the 404.
    expect(own.status).toBe(503);
  });
});
