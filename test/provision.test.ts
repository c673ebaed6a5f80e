import {
  DISPATCH_MAX_DELIVER,
  defaultProvisionOptions,
  hooklineNames,
  type ProvisionOptions,
  provision,
} from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

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

describe("provision", () => {
  const options: ProvisionOptions = { ...defaultProvisionOptions, names: hooklineNames("prov") };

  it("creates every stream, durable consumer and the endpoint bucket", async () => {
    const { endpoints } = await provision(nc, await jetstreamManager(nc), options);
    const jsm = await jetstreamManager(nc);
    const dispatch = await jsm.streams.info("PROV_DISPATCH");
    expect(dispatch.config.retention).toBe(RetentionPolicy.Workqueue);
    expect(dispatch.config.discard).toBe("new");
    expect(dispatch.config.subjects).toEqual(["prov.dispatch.fresh.>", "prov.dispatch.retry.>"]);
    for (const stream of ["PROV_RETRY", "PROV_OUTCOMES", "PROV_DEADLETTER", "PROV_ADVISORIES"]) {
      expect((await jsm.streams.info(stream)).config.name).toBe(stream);
    }
    const fresh = await jsm.consumers.info("PROV_DISPATCH", "delivery-fresh");
    expect(fresh.config.max_deliver).toBe(DISPATCH_MAX_DELIVER);
    expect(fresh.config.filter_subject).toBe("prov.dispatch.fresh.>");
    expect(
      (await jsm.consumers.info("PROV_DISPATCH", "delivery-retry")).config.filter_subject,
    ).toBe("prov.dispatch.retry.>");
    expect((await jsm.consumers.info("PROV_OUTCOMES", "classifier")).config.filter_subject).toBe(
      "prov.outcome.failed.>",
    );
    expect((await jsm.consumers.info("PROV_DEADLETTER", "dlq-store")).name).toBe("dlq-store");
    expect((await jsm.consumers.info("PROV_ADVISORIES", "classifier-poison")).name).toBe(
      "classifier-poison",
    );
    expect((await endpoints.status()).history).toBe(5);
  });

  it("is idempotent, applies changed limits, and survives concurrent callers", async () => {
    const jsm = await jetstreamManager(nc);
    await Promise.all([provision(nc, jsm, options), provision(nc, jsm, options)]);
    await provision(nc, jsm, { ...options, dispatchMaxBytes: 64 * 1024 * 1024 });
    expect((await jsm.streams.info("PROV_DISPATCH")).config.max_bytes).toBe(64 * 1024 * 1024);
  });

  it("keeps two prefixes apart on one server", async () => {
    const jsm = await jetstreamManager(nc);
    await provision(nc, jsm, { ...options, names: hooklineNames("other") });
    expect((await jsm.streams.info("OTHER_DISPATCH")).config.subjects).toEqual([
      "other.dispatch.fresh.>",
      "other.dispatch.retry.>",
    ]);
  });
});
