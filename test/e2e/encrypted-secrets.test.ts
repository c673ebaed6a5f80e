import { randomBytes } from "node:crypto";
import { type EndpointRecord, endpointRecordSchema, hooklineNames } from "@hookline/contracts";
import { pollUntil, type Sink } from "@hookline/testkit";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

// ingest and delivery get testkit's HOOKLINE_ENCRYPTION_KEYS (kid "test"); the classifier none.
const prefix = "e2esealed";
const names = hooklineNames(prefix);
let e2e: E2eStack;
let nc: NatsConnection;
let sink: Sink;
let ingest: IngestClient;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier"],
    env: { RETRY_SCHEDULE: "200ms", RETRY_TIERS: "200ms,1s", RETRY_JITTER: "0" },
  });
  ({ sink, ingest } = e2e);
  nc = await connect({ servers: e2e.nats.url });
});

afterAll(async () => {
  await nc?.close();
  await e2e?.stop();
});

/** The record as the bucket holds it, read with a plain NATS client. */
async function stored(id: string): Promise<{ raw: string; record: EndpointRecord }> {
  const kv = await new Kvm(nc).open(names.kv.endpoints);
  const entry = await kv.get(id);
  if (entry === null) throw new Error(`no record for ${id}`);
  const raw = entry.string();
  return { raw, record: endpointRecordSchema.parse(JSON.parse(raw)) };
}

const sealedValues = (record: EndpointRecord) => ({
  secrets: record.secrets.map((secret) => secret.value),
  headers: record.headers,
});

describe("sealed endpoint secrets and header values", () => {
  it("sign webhooks that verify, and send the header in plaintext", async () => {
    const secret = `whsec_${randomBytes(32).toString("base64")}`;
    const apiKey = `key-${randomBytes(16).toString("hex")}`;
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/sealed"),
      eventTypes: ["sealed.event"],
      secret,
      headers: { "X-Api-Key": apiKey },
    });
    expect(endpoint.secret).toBe(secret);
    const { raw, record } = await stored(endpoint.id);
    expect(raw).not.toContain("whsec_");
    expect(raw).not.toContain(secret.slice(6));
    expect(raw).not.toContain(apiKey);
    expect(record.secrets[0]?.value).toMatch(/^enc:v1:test:/);
    expect(record.headers?.["X-Api-Key"]).toMatch(/^enc:v1:test:/);

    // The sink verifies with the npm standardwebhooks library and this secret only.
    sink.setSecrets("/sealed", [secret]);
    const posted = await ingest.postEvent({ eventType: "sealed.event", payload: { n: 1 } });
    expect(posted.status).toBe(202);
    const [delivery] = await sink.waitFor(1, { path: "/sealed" });
    expect(delivery?.verified).toBe(true);
    expect(delivery?.verifiedSecrets).toEqual([secret]);
    expect(delivery?.headers["x-api-key"]).toBe(apiKey);
  });

  it("stay sealed byte for byte when the classifier, which has no keys, disables the endpoint", {
    timeout: 30_000,
  }, async () => {
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/gone"),
      eventTypes: ["gone.event"],
      headers: { Authorization: `Bearer ${randomBytes(16).toString("hex")}` },
    });
    sink.setSecrets("/gone", [endpoint.secret]);
    sink.script("/gone", [{ status: 410 }]);
    const before = await stored(endpoint.id);

    const posted = await ingest.postEvent({ eventType: "gone.event", payload: { n: 2 } });
    expect(posted.status).toBe(202);
    const [delivery] = await sink.waitFor(1, { path: "/gone" });
    expect(delivery?.verified).toBe(true);

    let after = before;
    await pollUntil(
      async () => {
        after = await stored(endpoint.id);
        return after.record.disabled;
      },
      { timeoutMs: 20_000, what: "the classifier to disable the endpoint" },
    );
    expect(after.record.disabledReason).toBeDefined();
    expect(sealedValues(after.record)).toEqual(sealedValues(before.record));
  });
});
