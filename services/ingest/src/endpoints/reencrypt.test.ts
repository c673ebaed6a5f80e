import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { type EndpointRecord, endpointRecordSchema } from "@hookline/contracts";
import { createLogger, createSecretBox, sealEndpointRecord, sealedKid } from "@hookline/kit";
import { repoRoot } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";
import { reencryptEndpoints } from "./reencrypt";

const k1 = { kid: "k1", key: randomBytes(32) };
const k2 = { kid: "k2", key: randomBytes(32) };
const lost = { kid: "lost", key: randomBytes(32) };
const logger = createLogger({ service: "reencrypt-test", level: "silent", pretty: false });
const envKeys = (...keys: { kid: string; key: Buffer }[]) =>
  keys.map(({ kid, key }) => `${kid}:${key.toString("base64")}`).join(",");

let h: IngestHarness;
beforeAll(async () => {
  // Ingest seals under k1, as before the rotation.
  h = await startIngestHarness({ prefix: "ingest_reencrypt", secretBox: createSecretBox([k1]) });
});
afterAll(async () => {
  await h?.close();
});

async function stored(id: string): Promise<{ record: EndpointRecord; revision: number }> {
  const entry = await h.kv.get(id);
  if (entry === null) throw new Error(`no record ${id}`);
  return { record: endpointRecordSchema.parse(entry.json()), revision: entry.revision };
}

const kids = (record: EndpointRecord) => [
  ...record.secrets.map((secret) => sealedKid(secret.value)),
  ...Object.values(record.headers ?? {}).map((value) => sealedKid(value)),
];

const bucket = () => ({ kv: h.kv, bucket: h.names.kv.endpoints, js: h.js });

/** Every message the bucket's stream holds, all revisions of every key. */
async function rawBucket(): Promise<string> {
  const stream = `KV_${h.names.kv.endpoints}`;
  const { state } = await h.jsm.streams.info(stream);
  let text = "";
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const message = await h.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (message !== null) text += Buffer.from(message.data).toString("latin1");
  }
  return text;
}

async function create(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const response = await h.call("POST", "/v1/endpoints", body);
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; secret: string };
}

describe("reencryptEndpoints", () => {
  it("seals plain values and values under an older kid under the first key, once", async () => {
    const underK1 = await create({
      url: "https://example.com/a",
      headers: { "X-A": "a-value", "X-B": "b-value" },
    });
    const rotated = await h.call("POST", `/v1/endpoints/${underK1.id}/rotate-secret`);
    const newest = ((await rotated.json()) as { secret: string }).secret;
    // A record from before encryption, written as it was then.
    const plainId = "ep_01JQAAAAAAAAAAAAAAAAAAAAA1";
    const now = new Date().toISOString();
    const plain: EndpointRecord = {
      id: plainId,
      url: "https://example.com/plain",
      eventTypes: [],
      secrets: [{ value: `whsec_${randomBytes(24).toString("base64")}`, createdAt: now }],
      headers: { Authorization: "Bearer plain-token" },
      disabled: false,
      createdAt: now,
      updatedAt: now,
    };
    await h.kv.put(plainId, JSON.stringify({ ...plain, description: "an older revision" }));
    await h.kv.put(plainId, JSON.stringify(plain));
    expect(await rawBucket()).toContain("whsec_");

    const box = createSecretBox([k2, k1]);
    const first = await reencryptEndpoints({ ...bucket(), box, logger });
    expect(first).toEqual({
      kid: "k2",
      records: 2,
      resealed: 2,
      values: 4 + 2,
      unchanged: 0,
      failed: 0,
    });
    const a = await stored(underK1.id);
    const b = await stored(plainId);
    expect(kids(a.record)).toEqual(["k2", "k2", "k2", "k2"]);
    expect(kids(b.record)).toEqual(["k2", "k2"]);
    // The writes were rollups: the earlier revisions, plain or under k1, are gone.
    const raw = await rawBucket();
    expect(raw).not.toContain("whsec_");
    expect(raw).not.toContain("plain-token");
    expect(raw).not.toContain("enc:v1:k1:");
    expect(raw).not.toContain("an older revision");

    // What ingest and delivery see with the rotated keys is what was written.
    const rotatedIngest = await startIngestHarness({
      prefix: "ingest_reencrypt_after",
      secretBox: box,
    });
    try {
      const revision = await rotatedIngest.kv.put(underK1.id, JSON.stringify(a.record));
      await rotatedIngest.cache.waitForRevision(revision);
      const answer = await rotatedIngest.call("GET", `/v1/endpoints/${underK1.id}/secret`);
      expect(((await answer.json()) as { secret: string }).secret).toBe(newest);
    } finally {
      await rotatedIngest.close();
    }

    const second = await reencryptEndpoints({ ...bucket(), box, logger });
    expect(second).toMatchObject({ records: 2, resealed: 0, values: 0, unchanged: 2, failed: 0 });
    expect((await stored(underK1.id)).revision).toBe(a.revision);
    expect((await stored(plainId)).revision).toBe(b.revision);
  });

  it("counts a record whose key is gone as failed and leaves it as it is", async () => {
    const id = "ep_01JQAAAAAAAAAAAAAAAAAAAAA2";
    const now = new Date().toISOString();
    const record = sealEndpointRecord(createSecretBox([lost]), {
      id,
      url: "https://example.com/lost",
      eventTypes: [],
      secrets: [{ value: `whsec_${randomBytes(24).toString("base64")}`, createdAt: now }],
      disabled: false,
      createdAt: now,
      updatedAt: now,
    });
    const revision = await h.kv.put(id, JSON.stringify(record));
    const report = await reencryptEndpoints({
      ...bucket(),
      box: createSecretBox([k2, k1]),
      logger,
    });
    expect(report).toMatchObject({ failed: 1 });
    expect((await stored(id)).revision).toBe(revision);
    await h.kv.purge(id);
  });
});

describe("the reencrypt command", () => {
  const run = (env: Record<string, string>) =>
    promisify(execFile)(
      process.execPath,
      ["--import", "tsx", join(repoRoot(), "services", "ingest", "src", "reencrypt.ts")],
      { cwd: repoRoot(), env: { PATH: process.env.PATH ?? "", ...env } },
    ).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: `${error.stdout}${error.stderr}`,
      }),
    );

  it("reports its counts, and refuses to run without keys (exit 78)", async () => {
    const env = { NATS_URL: h.nats.url, HOOKLINE_PREFIX: "ingest_reencrypt", LOG_LEVEL: "warn" };
    const done = await run({ ...env, HOOKLINE_ENCRYPTION_KEYS: envKeys(k2, k1) });
    expect(done).toEqual({
      code: 0,
      stdout: expect.stringContaining(
        're-encrypted (0 values) under "k2", 2 already under it, 0 failed',
      ),
    });
    const rotatedAgain = await run({ ...env, HOOKLINE_ENCRYPTION_KEYS: envKeys(lost, k2) });
    expect(rotatedAgain.code).toBe(0);
    expect(rotatedAgain.stdout).toContain('2 endpoints: 2 re-encrypted (6 values) under "lost"');
    const keyless = await run(env);
    expect(keyless.code).toBe(78);
    expect(keyless.stdout).toContain("HOOKLINE_ENCRYPTION_KEYS is required");
  });
});
