import {
  type ControlService,
  createLogger,
  HOOKLINE_SERVICES,
  startControlService,
} from "@hookline/kit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

const logger = createLogger({ service: "test", level: "silent", pretty: false });

let h: IngestHarness;
let nc: NatsConnection;
const running: ControlService[] = [];

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_system", controlTimeoutMs: 500 });
  nc = await connect({ servers: h.nats.url });
});
afterAll(async () => {
  await Promise.all(running.map((control) => control.stop()));
  await nc?.close();
  await h?.close();
});

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe("GET /v1/system/health", () => {
  it("is 503 naming every service no instance of which answers, with the streams' state", async () => {
    const response = await h.call("GET", "/v1/system/health");
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const body = await json(response);
    expect(body).toMatchObject({
      code: "system_not_ready",
      ready: false,
      notReady: HOOKLINE_SERVICES.map((service) => `${service}: no instance answered discovery`),
    });
    expect(body.detail).toContain("delivery: no instance answered discovery");
    const streams = body.streams as { name: string; exists: boolean }[];
    expect(streams.map((stream) => stream.name)).toContain(h.names.streams.dispatch);
    expect(streams.every((stream) => stream.exists)).toBe(true);
  });

  it("is 200 once every service has a ready instance, listing each instance", async () => {
    let classifierReady = false;
    for (const service of HOOKLINE_SERVICES) {
      running.push(
        await startControlService({
          nc,
          prefix: h.names.prefix,
          service,
          version: "0.1.0",
          readiness: {
            nats: () => true,
            provisioned: () => service !== "classifier" || classifierReady,
          },
          logger,
        }),
      );
    }
    const waiting = await json(await h.call("GET", "/v1/system/health"));
    expect(waiting.notReady).toEqual(["classifier: no ready instance (1 seen)"]);

    classifierReady = true;
    const response = await h.call("GET", "/v1/system/health");
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toMatchObject({ ready: true, notReady: [] });
    const services = body.services as { service: string; ready: boolean; instances: unknown[] }[];
    expect(services.map((s) => [s.service, s.ready, s.instances.length])).toEqual(
      HOOKLINE_SERVICES.map((service) => [service, true, 1]),
    );
    expect(services[1]?.instances[0]).toMatchObject({
      answered: true,
      service: "delivery",
      instanceId: running[1]?.instanceId,
      version: "0.1.0",
      ready: true,
      checks: { nats: true, provisioned: true },
    });
  });
});
