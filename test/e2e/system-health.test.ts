import { hooklineNames } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";

const prefix = "e2esyshealth";
const names = hooklineNames(prefix);
const SERVICES = ["ingest", "delivery", "classifier", "dlq"] as const;

let e2e: E2eStackWithDlq;

beforeAll(async () => {
  e2e = await startE2eStack({ prefix, services: SERVICES });
});

afterAll(async () => {
  await e2e?.stop();
});

interface Report {
  ready: boolean;
  notReady: string[];
  services: {
    service: string;
    ready: boolean;
    instances: { answered: boolean; ready: boolean; version: string; uptimeSeconds?: number }[];
  }[];
  streams: { name: string; exists: boolean; messages?: number }[];
}

async function systemHealth(): Promise<{ status: number; type: string; body: Report }> {
  const response = await e2e.ingest.request("/v1/system/health");
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    body: (await response.json()) as Report,
  };
}

describe("GET /v1/system/health", () => {
  it("is 200 with every service's instance and every stream, and 503 naming a service that stopped", async () => {
    const all = await systemHealth();
    expect(all.status).toBe(200);
    expect(all.body.ready).toBe(true);
    expect(all.body.notReady).toEqual([]);
    expect(all.body.services.map((s) => [s.service, s.ready, s.instances.length])).toEqual(
      SERVICES.map((service) => [service, true, 1]),
    );
    for (const { instances } of all.body.services) {
      expect(instances[0]).toMatchObject({ answered: true, ready: true, version: "0.1.0" });
      expect(instances[0]?.uptimeSeconds).toBeGreaterThan(0);
    }
    const streamNames = all.body.streams.map((s) => s.name);
    expect(streamNames).toEqual(expect.arrayContaining(Object.values(names.streams)));
    expect(all.body.streams.every((s) => s.exists)).toBe(true);

    await e2e.stack.terminate("classifier");
    const without = await systemHealth();
    expect(without.status).toBe(503);
    expect(without.type).toContain("application/problem+json");
    expect(without.body).toMatchObject({
      code: "system_not_ready",
      ready: false,
      notReady: ["classifier: no instance answered discovery"],
      detail: "not ready: classifier: no instance answered discovery",
    });

    await e2e.stack.start("classifier");
    expect((await systemHealth()).status).toBe(200);
  });
});
