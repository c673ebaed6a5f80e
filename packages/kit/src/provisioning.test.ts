import { hooklineNames, provision, verifyProvisioned } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commonEnvShape, parseEnv } from "./config";
import { createLogger } from "./logger";
import { NotProvisionedError, provisionOptionsFromEnv, provisionUntilDone } from "./provisioning";

const logger = createLogger({ service: "test", level: "silent", pretty: false });

describe("provisionOptionsFromEnv", () => {
  it("takes the dedupe window, stream budgets, quota and replicas from the common env", () => {
    const env = parseEnv(commonEnvShape, {
      INGEST_DEDUPE_WINDOW: "2m",
      DISPATCH_MAX_BYTES: "10000",
      DISPATCH_RETRY_MAX_BYTES: "20000",
      RETRY_MAX_BYTES: "30000",
      OUTCOMES_MAX_BYTES: "40000",
      DEADLETTER_MAX_BYTES: "50000",
      ATTEMPTS_MAX_BYTES: "60000",
      ENDPOINT_BACKLOG_QUOTA: "70",
      JETSTREAM_REPLICAS: "3",
    });
    const names = hooklineNames("prov");
    expect(provisionOptionsFromEnv(env, names)).toMatchObject({
      names,
      dedupeWindowMs: 120_000,
      dispatchMaxBytes: 10_000,
      dispatchRetryMaxBytes: 20_000,
      retryMaxBytes: 30_000,
      outcomesMaxBytes: 40_000,
      deadletterMaxBytes: 50_000,
      attemptsMaxBytes: 60_000,
      endpointBacklogQuota: 70,
      replicas: 3,
    });
  });
});

describe("provisionUntilDone", () => {
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

  it("provisions the shared resources and what `after` adds, retrying a failure", async () => {
    const names = hooklineNames("prov_after");
    let calls = 0;
    const provisioned = await provisionUntilDone({
      nc,
      options: provisionOptionsFromEnv(parseEnv(commonEnvShape, {}), names),
      logger,
      stopping: () => false,
      after: async (jsm) => {
        calls++;
        if (calls === 1) throw new Error("not yet");
        return { streams: (await jsm.streams.names().next()).length };
      },
    });
    expect(calls).toBe(2);
    expect(provisioned?.streams).toBeGreaterThan(0);
    expect((await provisioned?.jsm.streams.info(names.streams.dispatch))?.config.name).toBe(
      names.streams.dispatch,
    );
    expect((await provisioned?.endpoints.status())?.bucket).toBe(names.kv.endpoints);
  });

  it("gives up with undefined once shutdown has begun", async () => {
    let stopping = false;
    const provisioned = await provisionUntilDone({
      nc,
      options: provisionOptionsFromEnv(parseEnv(commonEnvShape, {}), hooklineNames("prov_stop")),
      logger,
      stopping: () => stopping,
      after: async () => {
        stopping = true;
        throw new Error("connection closed by shutdown");
      },
    });
    expect(provisioned).toBeUndefined();
  });
});

describe("provisionUntilDone in verify mode", () => {
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

  const optionsFor = (prefix: string) =>
    provisionOptionsFromEnv(parseEnv(commonEnvShape, {}), hooklineNames(prefix));

  it("creates nothing, logs what is missing and retries until the provision step ran", async () => {
    const options = optionsFor("verify_wait");
    const { names } = options;
    const warnings: { missing?: string; msg: string }[] = [];
    const recording = createLogger({ service: "test", level: "warn", pretty: false });
    recording.warn = ((fields: { missing?: string }, msg: string) => {
      warnings.push({ missing: fields.missing, msg });
    }) as typeof recording.warn;
    let afterModes: string[] = [];
    const verifying = provisionUntilDone({
      nc,
      options,
      mode: "verify",
      logger: recording,
      stopping: () => false,
      after: async (_jsm, mode) => {
        afterModes = [...afterModes, mode];
        return {};
      },
    });
    const jsm = await jetstreamManager(nc);
    await expect.poll(() => warnings.length, { timeout: 5_000 }).toBeGreaterThan(0);
    // Still missing: verify mode created nothing.
    await expect(jsm.streams.info(names.streams.dispatch)).rejects.toThrow(/stream not found/);
    expect(warnings[0]).toEqual({
      missing: `stream ${names.streams.dispatch}`,
      msg: expect.stringContaining("the provision step must run first"),
    });

    await provision(nc, jsm, options);
    const verified = await verifying;
    expect(afterModes).toEqual(["verify"]);
    expect((await verified?.endpoints.status())?.bucket).toBe(names.kv.endpoints);
  });

  it("names a missing durable and the endpoint bucket, and is done at once when all exist", async () => {
    const options = optionsFor("verify_parts");
    const { names } = options;
    const jsm = await jetstreamManager(nc);
    await provision(nc, jsm, options);
    expect(await verifyProvisioned(nc, jsm, options)).toMatchObject({ outcome: "present" });

    await jsm.consumers.delete(names.streams.outcomes, names.consumers.classifier);
    expect(await verifyProvisioned(nc, jsm, options)).toEqual({
      outcome: "missing",
      resource: `consumer ${names.consumers.classifier} on ${names.streams.outcomes}`,
    });
    await provision(nc, jsm, options);
    await jsm.streams.delete(`KV_${names.kv.endpoints}`);
    expect(await verifyProvisioned(nc, jsm, options)).toEqual({
      outcome: "missing",
      resource: `bucket ${names.kv.endpoints}`,
    });
    await provision(nc, jsm, options);

    const started = Date.now();
    const verified = await provisionUntilDone({
      nc,
      options,
      mode: "verify",
      logger,
      stopping: () => false,
    });
    expect(verified?.jsm).toBeDefined();
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("does not change an existing stream's config", async () => {
    const options = optionsFor("verify_keep");
    const { names } = options;
    const jsm = await jetstreamManager(nc);
    await provision(nc, jsm, options);
    await provisionUntilDone({
      nc,
      options: { ...options, dispatchMaxBytes: 8_192 },
      mode: "verify",
      logger,
      stopping: () => false,
    });
    const info = await jsm.streams.info(names.streams.dispatch);
    expect(info.config.max_bytes).toBe(options.dispatchMaxBytes);
  });

  it("retries a missing resource an `after` hook reports, and stops on shutdown", async () => {
    const options = optionsFor("verify_after");
    const jsm = await jetstreamManager(nc);
    await provision(nc, jsm, options);
    let calls = 0;
    let stopping = false;
    const verified = await provisionUntilDone({
      nc,
      options,
      mode: "verify",
      logger,
      stopping: () => stopping,
      after: async () => {
        calls++;
        if (calls === 2) stopping = true;
        throw new NotProvisionedError("consumer retry-5s on verify_after_retry");
      },
    });
    expect(verified).toBeUndefined();
    expect(calls).toBe(2);
  });
});
