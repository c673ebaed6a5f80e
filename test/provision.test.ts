import {
  DISPATCH_MAX_DELIVER,
  defaultProvisionOptions,
  hooklineNames,
  isBacklogFull,
  type ProvisionOptions,
  provision,
} from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
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
    expect(dispatch.config.subjects).toEqual(["prov.dispatch.fresh.>"]);
    expect(dispatch.config.max_msgs_per_subject).toBe(defaultProvisionOptions.endpointBacklogQuota);
    expect(dispatch.config.discard_new_per_subject).toBe(true);
    // Every stream that can hold a task's only copy has a limit and refuses when full.
    for (const stream of [
      "PROV_DISPATCH",
      "PROV_DISPATCH_RETRY",
      "PROV_RETRY",
      "PROV_OUTCOMES",
      "PROV_DEADLETTER",
    ]) {
      const { config } = await jsm.streams.info(stream);
      expect(config.retention, stream).toBe(RetentionPolicy.Workqueue);
      expect(config.discard, stream).toBe("new");
      expect(config.max_bytes, stream).toBeGreaterThan(0);
    }
    expect((await jsm.streams.info("PROV_DISPATCH_RETRY")).config.subjects).toEqual([
      "prov.dispatch.retry.>",
      "prov.dispatch.overflow.>",
    ]);
    expect((await jsm.streams.info("PROV_OUTCOMES")).config.subjects).toEqual([
      "prov.outcome.failed.>",
    ]);
    // The attempt log's feed holds copies only: that stream may evict.
    const attempts = await jsm.streams.info("PROV_ATTEMPTS");
    expect(attempts.config.subjects).toEqual([
      "prov.outcome.delivered.>",
      "prov.outcome.classified.>",
    ]);
    expect(attempts.config.discard).toBe("old");
    // One ack per written batch; no filter, so every stream sequence is one of its records.
    const dlqAttempts = await jsm.consumers.info("PROV_ATTEMPTS", "dlq-attempts");
    expect(dlqAttempts.config.ack_policy).toBe("all");
    expect(dlqAttempts.config.filter_subject ?? "").toBe("");
    expect((await jsm.streams.info("PROV_ADVISORIES")).config.subjects).toHaveLength(2);
    const fresh = await jsm.consumers.info("PROV_DISPATCH", "delivery-fresh");
    expect(fresh.config.max_deliver).toBe(DISPATCH_MAX_DELIVER);
    expect(fresh.config.filter_subject).toBe("prov.dispatch.fresh.>");
    expect(
      (await jsm.consumers.info("PROV_DISPATCH_RETRY", "delivery-retry")).config.filter_subject,
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

  it("refuses to keep a stream whose retention this version has changed", async () => {
    const jsm = await jetstreamManager(nc);
    const names = hooklineNames("oldret");
    await jsm.streams.add({
      name: names.streams.outcomes,
      subjects: [names.subjects.outcomeFailedAll],
      retention: RetentionPolicy.Limits,
    });
    await expect(provision(nc, jsm, { ...options, names })).rejects.toThrow(
      /OLDRET_OUTCOMES has retention limits, this version needs workqueue/,
    );
  });

  it("removes the success-only stream of earlier versions, whose subjects ATTEMPTS takes", async () => {
    const jsm = await jetstreamManager(nc);
    const names = hooklineNames("retired");
    await jsm.streams.add({
      name: names.retiredStreams.delivered,
      subjects: [names.subjects.outcomeDeliveredAll],
    });
    await provision(nc, jsm, { ...options, names });
    await expect(jsm.streams.info(names.retiredStreams.delivered)).rejects.toThrow(/not found/);
    expect((await jsm.streams.info(names.streams.attempts)).config.subjects).toContain(
      names.subjects.outcomeDeliveredAll,
    );
  });

  it("gives retries their own budget: a full retry lane never refuses a fresh task", async () => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const names = hooklineNames("budgets");
    await provision(nc, jsm, { ...options, names, dispatchRetryMaxBytes: 16 * 1024 });
    const body = new Uint8Array(1_024);
    let refused: unknown;
    for (let i = 0; i < 64 && refused === undefined; i++) {
      // A bulk replay, or a retry storm, across many endpoints.
      await js.publish(names.subjects.dispatchRetry(`ep_${i}`), body).catch((error: unknown) => {
        refused = error;
      });
    }
    expect(String(refused)).toMatch(/maximum bytes exceeded/);
    const fresh = await js.publish(names.subjects.dispatchFresh("ep_new"), body);
    expect(fresh.stream).toBe(names.streams.dispatch);
  });

  it("lets each endpoint queue ENDPOINT_BACKLOG_QUOTA tasks, and refuses the next", async () => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const names = hooklineNames("quota");
    await provision(nc, jsm, { ...options, names, endpointBacklogQuota: 3 });
    for (let i = 0; i < 3; i++) await js.publish(names.subjects.dispatchFresh("ep_full"), "x");
    const refused = await js.publish(names.subjects.dispatchFresh("ep_full"), "x").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isBacklogFull(refused)).toBe(true);
    // Another endpoint is not affected, nor is the full one's retry lane.
    await js.publish(names.subjects.dispatchFresh("ep_other"), "x");
    await js.publish(names.subjects.dispatchRetry("ep_full"), "x");
  });

  it("keeps two prefixes apart on one server", async () => {
    const jsm = await jetstreamManager(nc);
    await provision(nc, jsm, { ...options, names: hooklineNames("other") });
    expect((await jsm.streams.info("OTHER_DISPATCH")).config.subjects).toEqual([
      "other.dispatch.fresh.>",
    ]);
  });
});
