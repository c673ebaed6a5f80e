import { hooklineNames } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commonEnvShape, parseEnv } from "./config";
import { createLogger } from "./logger";
import { provisionOptionsFromEnv, provisionUntilDone } from "./provisioning";

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
      DELIVERED_MAX_BYTES: "60000",
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
      deliveredMaxBytes: 60_000,
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
