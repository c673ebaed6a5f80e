import { type NatsServerHandle, runService, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const base = (prefix: string) => ({
  NATS_URL: nats.url,
  PORT: "0",
  HOOKLINE_PREFIX: prefix,
  INGEST_API_TOKENS: "keys:keys-test-token",
});

describe.each(["ingest", "delivery"])("%s without HOOKLINE_ENCRYPTION_KEYS", (service) => {
  it("exits 78 naming the variable", async () => {
    // An empty value is unset; testkit would otherwise give the service its test key.
    const running = runService(service, {
      ...base(`keys_${service}`),
      HOOKLINE_ENCRYPTION_KEYS: "",
    });
    expect(await running.exitCode).toBe(78);
    expect(running.output()).toContain("HOOKLINE_ENCRYPTION_KEYS is required");
  });

  it("names a malformed value without echoing it", async () => {
    const running = runService(service, {
      ...base(`keys_${service}`),
      HOOKLINE_ENCRYPTION_KEYS: "k1:c2hvcnQta2V5",
    });
    expect(await running.exitCode).toBe(78);
    expect(running.output()).toContain("HOOKLINE_ENCRYPTION_KEYS");
    expect(running.output()).not.toContain("c2hvcnQta2V5");
  });

  it("starts with HOOKLINE_ALLOW_PLAINTEXT_SECRETS=true, warning that nothing is encrypted", async () => {
    const running = runService(service, {
      ...base(`keys_${service}`),
      HOOKLINE_ENCRYPTION_KEYS: "",
      HOOKLINE_ALLOW_PLAINTEXT_SECRETS: "true",
    });
    try {
      await running.ready(20_000);
      expect(running.output()).toContain("are not encrypted at rest");
    } finally {
      await running.terminate();
    }
  });
});
