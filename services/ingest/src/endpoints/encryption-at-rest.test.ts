import { randomBytes } from "node:crypto";
import { type EndpointRecord, endpointRecordSchema } from "@hookline/contracts";
import { createSecretBox, sealedKid } from "@hookline/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

const key = randomBytes(32);
const box = createSecretBox([{ kid: "rest1", key }]);
const givenSecret = `whsec_${randomBytes(32).toString("base64")}`;
const headerValues = {
  "X-Api-Key": `hdr-${randomBytes(12).toString("hex")}`,
  Authorization: `Bearer tok-${randomBytes(12).toString("hex")}`,
};
const patchedValue = `patched-${randomBytes(12).toString("hex")}`;

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_at_rest", secretBox: box });
});
afterAll(async () => {
  await h?.close();
});

async function json(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  return (await response.json()) as Record<string, unknown>;
}

/** Every message the bucket's stream holds, all revisions of every key, data and headers. */
async function rawBucket(): Promise<Buffer> {
  const stream = `KV_${h.names.kv.endpoints}`;
  const info = await h.jsm.streams.info(stream);
  const parts: Buffer[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const message = await h.jsm.streams.getMessage(stream, { seq });
    if (message === null) continue;
    parts.push(Buffer.from(message.data));
    if (message.header !== undefined) parts.push(Buffer.from(message.header.toString()));
  }
  return Buffer.concat(parts);
}

describe("endpoint secrets and header values at rest", () => {
  it("are sealed in every revision the bucket holds, and shown in plaintext where asked", async () => {
    const first = await json(
      await h.call("POST", "/v1/endpoints", {
        url: "https://example.com/a",
        secret: givenSecret,
        headers: headerValues,
      }),
      201,
    );
    expect(first.secret).toBe(givenSecret);
    const second = await json(
      await h.call("POST", "/v1/endpoints", { url: "https://example.com/b" }),
      201,
    );
    const generated = String(second.secret);
    expect(generated).toMatch(/^whsec_/);
    const id = String(first.id);

    // More revisions: new headers, a rotation, a disable.
    await json(
      await h.call("PATCH", `/v1/endpoints/${id}`, {
        headers: { ...headerValues, "X-Extra": patchedValue },
      }),
      200,
    );
    const rotated = String(
      (await json(await h.call("POST", `/v1/endpoints/${id}/rotate-secret`), 200)).secret,
    );
    await json(await h.call("PATCH", `/v1/endpoints/${id}`, { disabled: true }), 200);

    expect((await json(await h.call("GET", `/v1/endpoints/${id}/secret`), 200)).secret).toBe(
      rotated,
    );
    expect(
      (await json(await h.call("GET", `/v1/endpoints/${String(second.id)}/secret`), 200)).secret,
    ).toBe(generated);

    // The record as stored, and as the cache holds it: every value sealed.
    const entry = await h.kv.get(id);
    const stored: EndpointRecord = endpointRecordSchema.parse(entry?.json());
    expect(stored.secrets).toHaveLength(2);
    for (const value of [
      ...stored.secrets.map((secret) => secret.value),
      ...Object.values(stored.headers ?? {}),
    ]) {
      expect(sealedKid(value)).toBe("rest1");
    }
    expect(h.cache.get(id)?.record.secrets[0]?.value).toMatch(/^enc:v1:rest1:/);

    const raw = await rawBucket();
    const text = raw.toString("latin1");
    // Four writes to the first endpoint, one to the second: every revision is still there.
    expect(text.split('"id":').length - 1).toBe(5);
    expect(text).not.toContain("whsec_");
    const plaintexts = [
      givenSecret,
      generated,
      rotated,
      ...Object.values(headerValues),
      patchedValue,
    ].map((value) => value.replace(/^whsec_/, ""));
    for (const value of plaintexts) expect(text).not.toContain(value);
    for (const keyText of [
      key.toString("base64"),
      key.toString("base64url"),
      key.toString("hex"),
    ]) {
      expect(text).not.toContain(keyText);
    }
    expect(raw.indexOf(key)).toBe(-1);
    // The secrets' own key bytes are not there either.
    for (const secret of [givenSecret, generated, rotated]) {
      expect(raw.indexOf(Buffer.from(secret.slice(6), "base64"))).toBe(-1);
    }
  });
});
