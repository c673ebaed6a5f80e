import { randomBytes } from "node:crypto";
import { type EndpointRecord, endpointRecordSchema } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { isPlainlyValidEndpointRecord } from "./endpoint-record-parse";
import {
  openEndpointRecord,
  resealEndpointRecord,
  SealedValueError,
  sealEndpointRecord,
} from "./endpoint-sealing";
import { createSecretBox, sealedKid } from "./secret-box";

const k1 = { kid: "k1", key: randomBytes(32) };
const k2 = { kid: "k2", key: randomBytes(32) };
const plain: EndpointRecord = {
  id: "ep_01JABCDEFGHJKMNPQRSTVWXYZA",
  url: "https://hooks.example.com/in",
  eventTypes: ["order.created"],
  secrets: [
    { value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: "2025-01-31T00:00:00Z" },
    {
      value: "whsec_dGhlIG90aGVyIHNlY3JldCBmb3Igcm90YXRpb24=",
      createdAt: "2025-01-01T00:00:00Z",
      expiresAt: "2025-02-01T00:00:00Z",
    },
  ],
  headers: { "X-Tenant": "acme", Authorization: `Bearer ${"t".repeat(1_000)}` },
  disabled: false,
  createdAt: "2025-01-01T00:00:00Z",
  updatedAt: "2025-01-01T00:00:00Z",
};

const values = (record: EndpointRecord) => [
  ...record.secrets.map((secret) => secret.value),
  ...Object.values(record.headers ?? {}),
];

describe("sealEndpointRecord and openEndpointRecord", () => {
  const box = createSecretBox([k1]);
  const sealed = sealEndpointRecord(box, plain);

  it("seals every secret and header value and nothing else", () => {
    for (const value of values(sealed)) expect(sealedKid(value)).toBe("k1");
    expect({ ...sealed, secrets: [], headers: {} }).toEqual({ ...plain, secrets: [], headers: {} });
    expect(sealed.secrets.map(({ value: _, ...rest }) => rest)).toEqual(
      plain.secrets.map(({ value: _, ...rest }) => rest),
    );
    expect(Object.keys(sealed.headers ?? {})).toEqual(Object.keys(plain.headers ?? {}));
    expect(openEndpointRecord(box, sealed)).toEqual({ outcome: "opened", record: plain });
  });

  it("is a valid record that takes the quick check, as stored through JSON", () => {
    const stored = JSON.parse(JSON.stringify(sealed)) as unknown;
    expect(endpointRecordSchema.safeParse(stored).success).toBe(true);
    expect(isPlainlyValidEndpointRecord(stored)).toBe(true);
  });

  it("opens plain records as they are, and says which value does not open", () => {
    expect(openEndpointRecord(undefined, plain)).toEqual({ outcome: "opened", record: plain });
    const opened = openEndpointRecord(undefined, sealed);
    expect(opened.outcome).toBe("unopenable");
    if (opened.outcome === "unopenable") {
      expect(opened.error).toBeInstanceOf(SealedValueError);
      expect(opened.error.message).toContain("secrets[0]");
      expect(opened.error.message).toContain('"k1"');
    }
  });

  it("binds each value to its record and field", () => {
    const moved = { ...sealed, id: "ep_01JABCDEFGHJKMNPQRSTVWXYZB" };
    expect(openEndpointRecord(box, moved)).toMatchObject({ outcome: "unopenable" });
    const [first, second] = sealed.secrets;
    const swapped = {
      ...sealed,
      headers: { "X-Tenant": sealed.headers?.Authorization ?? "" },
      secrets: [first, second].flatMap((secret) => (secret === undefined ? [] : [secret])),
    };
    const opened = openEndpointRecord(box, swapped);
    expect(opened).toMatchObject({ outcome: "unopenable" });
    if (opened.outcome === "unopenable") expect(opened.error.reason).toBe("forged");
  });
});

describe("resealEndpointRecord", () => {
  it("re-seals plain values and values under an older kid, and keeps the others as they are", () => {
    const underK1 = sealEndpointRecord(createSecretBox([k1]), plain);
    // Half of it plain, as in a record from before encryption.
    const mixed: EndpointRecord = {
      ...underK1,
      secrets: [plain.secrets[0], underK1.secrets[1]].flatMap((s) => (s ? [s] : [])),
      headers: { ...underK1.headers, "X-Tenant": "acme" },
    };
    const rotated = createSecretBox([k2, k1]);
    const result = resealEndpointRecord(rotated, mixed);
    expect(result.outcome).toBe("resealed");
    if (result.outcome !== "resealed") return;
    expect(result.values).toBe(4);
    for (const value of values(result.record)) expect(sealedKid(value)).toBe("k2");
    expect(openEndpointRecord(rotated, result.record)).toEqual({
      outcome: "opened",
      record: plain,
    });
    expect(resealEndpointRecord(rotated, result.record)).toEqual({ outcome: "unchanged" });
  });

  it("reports a value sealed under a key it does not hold", () => {
    const sealed = sealEndpointRecord(createSecretBox([k1]), plain);
    const result = resealEndpointRecord(createSecretBox([k2]), sealed);
    expect(result).toMatchObject({ outcome: "unopenable" });
    if (result.outcome === "unopenable") expect(result.error.reason).toBe("unknown_key");
  });
});
