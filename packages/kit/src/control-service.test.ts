import { controlEndpoints, instanceStatusSchema } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControlClient } from "./control-client";
import { type ControlService, startControlService } from "./control-service";
import { createLogger } from "./logger";

const logger = createLogger({ service: "test", level: "silent", pretty: false });

let nats: NatsServerHandle;
const connections: NatsConnection[] = [];

async function connection(): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return nc;
}

async function instance(prefix: string, ready: () => boolean): Promise<ControlService> {
  return startControlService({
    nc: await connection(),
    prefix,
    service: "delivery",
    version: "1.2.3",
    readiness: { nats: () => true, provisioned: ready },
    logger,
  });
}

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await nats?.stop();
});

describe("control service and client", () => {
  it("finds every instance of its deployment and asks each one on its own subject", async () => {
    let secondReady = false;
    const first = await instance("ctla", () => true);
    const second = await instance("ctla", () => secondReady);
    // Another deployment on the same server: never counted.
    await instance("ctlb", () => true);
    const client = createControlClient({
      nc: await connection(),
      prefix: "ctla",
      timeoutMs: 2_000,
    });

    const found = await client.discover("delivery");
    expect(found).toEqual({
      outcome: "found",
      instances: [first, second]
        .map((s) => ({ instanceId: s.instanceId, version: "1.2.3" }))
        .sort((a, b) => a.instanceId.localeCompare(b.instanceId)),
    });

    const asked = await client.askEvery("delivery", controlEndpoints.status);
    if (asked.outcome !== "asked") throw new Error("not asked");
    const statuses = asked.answers.map((answer) => {
      if (answer.outcome !== "answered") throw new Error(`no answer: ${answer.outcome}`);
      return instanceStatusSchema.parse(answer.body);
    });
    const byId = new Map(statuses.map((status) => [status.instanceId, status]));
    expect(byId.get(first.instanceId)).toMatchObject({
      service: "delivery",
      version: "1.2.3",
      ready: true,
      checks: { nats: true, provisioned: true },
    });
    expect(byId.get(second.instanceId)).toMatchObject({
      ready: false,
      checks: { nats: true, provisioned: false },
    });
    secondReady = true;

    await second.stop();
    const afterStop = await client.discover("delivery");
    expect(afterStop).toEqual({
      outcome: "found",
      instances: [{ instanceId: first.instanceId, version: "1.2.3" }],
    });
  });

  it("reports each instance that refuses or does not answer, and none when none runs", async () => {
    const refusing = await instance("ctlc", () => true);
    await refusing.handle(controlEndpoints.breakerHealth, () => ({
      ok: false,
      code: 400,
      description: "endpointId: expected a string",
    }));
    const silent = await instance("ctlc", () => true);
    await silent.handle(controlEndpoints.breakerHealth, () => new Promise(() => {}));
    const client = createControlClient({ nc: await connection(), prefix: "ctlc", timeoutMs: 500 });

    const asked = await client.askEvery("delivery", controlEndpoints.breakerHealth, {});
    if (asked.outcome !== "asked") throw new Error("not asked");
    const byId = new Map(asked.answers.map((answer) => [answer.instanceId, answer]));
    expect(byId.get(refusing.instanceId)).toMatchObject({
      outcome: "refused",
      code: 400,
      description: "endpointId: expected a string",
    });
    expect(byId.get(silent.instanceId)).toMatchObject({ outcome: "no_answer", reason: "timeout" });

    const nobody = createControlClient({ nc: await connection(), prefix: "ctld", timeoutMs: 500 });
    expect(await nobody.discover("classifier")).toEqual({ outcome: "found", instances: [] });
  });
});
