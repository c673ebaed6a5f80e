import { createHmac, createSecretKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { secretKey, webhookSignature } from "./signature";

// The example from the Standard Webhooks specification.
const spec = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const bytes = (text: string) => new TextEncoder().encode(text);
const key = (secret: string) => createSecretKey(secretKey(secret));

describe("webhookSignature", () => {
  it("matches the Standard Webhooks specification example", () => {
    const signature = webhookSignature({
      id: spec.id,
      timestamp: spec.timestamp,
      body: bytes(spec.body),
      keys: [key(spec.secret)],
    });
    expect(signature).toBe(spec.signature);
  });

  it("signs once per secret, in order, separated by spaces", () => {
    const other = "whsec_dGhlIG90aGVyIHNlY3JldCBmb3Igcm90YXRpb24=";
    const signature = webhookSignature({
      id: spec.id,
      timestamp: spec.timestamp,
      body: bytes(spec.body),
      keys: [key(other), key(spec.secret)],
    });
    const parts = signature.split(" ");
    expect(parts).toHaveLength(2);
    expect(parts[1]).toBe(spec.signature);
    expect(parts[0]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(parts[0]).not.toBe(parts[1]);
  });

  it("signs the raw bytes, so non-ASCII and non-canonical JSON keep their exact form", () => {
    const body = Buffer.from('{"name":"Zoë",  "emoji":"🚀"}\n', "utf8");
    const expected = createHmac("sha256", secretKey(spec.secret))
      .update(Buffer.concat([Buffer.from(`${spec.id}.${spec.timestamp}.`), body]))
      .digest("base64");
    const signature = webhookSignature({
      id: spec.id,
      timestamp: spec.timestamp,
      body: new Uint8Array(body),
      keys: [key(spec.secret)],
    });
    expect(signature).toBe(`v1,${expected}`);
  });

  it("signs a subarray of a larger buffer by its own bytes only", () => {
    const framed = bytes(`XXXX${spec.body}YYYY`);
    const body = framed.subarray(4, 4 + spec.body.length);
    const signature = webhookSignature({
      id: spec.id,
      timestamp: spec.timestamp,
      body,
      keys: [key(spec.secret)],
    });
    expect(signature).toBe(spec.signature);
  });

  it("gives an empty header value when no secret is active", () => {
    expect(webhookSignature({ id: "e", timestamp: 1, body: bytes("{}"), keys: [] })).toBe("");
  });
});

describe("secretKey", () => {
  it("decodes the base64 after whsec_", () => {
    expect(secretKey("whsec_aGVsbG8=").toString("utf8")).toBe("hello");
  });
});
