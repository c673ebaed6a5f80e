import { hooklineNames } from "@hookline/contracts";
import { NotProvisionedError } from "@hookline/kit";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantBucket } from "./bucket";

let nats: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe("the tenants bucket", () => {
  it("is created in apply mode and only opened in verify mode", async () => {
    const names = hooklineNames("tenant_bucket");
    const jsm = await jetstreamManager(nc);
    const verifying = tenantBucket(nc, jsm, names, "verify");
    await expect(verifying).rejects.toThrow(NotProvisionedError);
    await expect(verifying).rejects.toMatchObject({ resource: `bucket ${names.kv.tenants}` });
    await expect(jsm.streams.info(`KV_${names.kv.tenants}`)).rejects.toThrow(/stream not found/);

    const created = await tenantBucket(nc, jsm, names, "apply");
    await created.put("t1", "{}");
    const opened = await tenantBucket(nc, jsm, names, "verify");
    expect((await opened.get("t1"))?.string()).toBe("{}");
  });
});
