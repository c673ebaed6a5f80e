import { endpointRecordSchema } from "@hookline/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPlainlyValidEndpointRecord, parseEndpointRecord } from "./endpoint-record-parse";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => a.join(""));

const id = fc.oneof(
  chars(CROCKFORD, 26, 26).map((s) => `ep_${s}`),
  pick("ep_01JABCDEFGHJKMNPQRSTVWXYZI", "ep_short", "EP_01JABCDEFGHJKMNPQRSTVWXYZA", ""),
);
const host = fc.oneof(
  pick(
    "example.com",
    "hooks.example.com",
    "a-b.c-d.io",
    "localhost",
    "x1.y2",
    "1.2.3.4",
    "999.0.0.1",
  ),
  pick("xn--abc.com", "xn--nxasmq6b.com", "a--b.com", "-a.com", "a-.com", "a..b", ".com", "a.1b"),
  pick("127.0.0.1", "10.0.0.256", "01.2.3.4", "0.0.0.0", "1.2.3", "1.2.3.4.5", "255.255.255.255"),
  pick("EXAMPLE.com", "exa mple.com", "[::1]", "ex_ample.com", "b.c123", "a.b-1", "1a.b"),
  chars("abc019.-", 1, 12),
);
const url = fc.oneof(
  fc
    .tuple(pick("https://", "http://", "ftp://", "https:", "HTTPS://", " https://"), host)
    .chain(([scheme, h]) =>
      fc
        .tuple(
          pick("", ":443", ":8080", ":0", ":99999", ":65536", ":65535", ":40123", ":099", ":1"),
          pick("", "/", "/in", "/a/b.c~_-", "/%41", "/?q", "/#x", " ", "\t"),
        )
        .map(([port, path]) => `${scheme}${h}${port}${path}`),
    ),
  fc.string({ maxLength: 30 }),
);
const datetime = fc.oneof(
  fc
    .tuple(
      pick("2024", "2025", "1900", "2000", "0000", "2100"),
      pick("01", "02", "04", "06", "09", "11", "12", "13", "00"),
      pick("01", "09", "10", "28", "29", "30", "31", "32", "00"),
      pick("00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "12:00"),
      pick("", ".1", ".123", ".123456789", "."),
      pick("Z", "+01:00", "", "z"),
    )
    .map(([y, m, d, t, f, z]) => `${y}-${m}-${d}T${t}${f}${z}`),
  fc.string({ maxLength: 25 }),
);
const B64URL = "aZ09_-";
/** What kit's secret-box writes: enc:v1:<kid>:<16-character iv>:<ciphertext and tag>. */
const goodSealed = (min: number, max: number) =>
  fc
    .tuple(chars("kK1_-", 1, 8), chars(B64URL, 16, 16), chars(B64URL, min, max))
    .map(([kid, iv, sealed]) => `enc:v1:${kid}:${iv}:${sealed}`);
const sealed = fc.oneof(
  goodSealed(22, 40),
  goodSealed(1_400, 2_100),
  fc
    .tuple(
      pick("enc:v1:", "enc:v2:", "ENC:v1:", "enc:v1::"),
      chars("kK1_-:", 0, 34),
      pick(":", "::", ""),
      chars(`${B64URL}=+/`, 14, 17),
      pick(":", ""),
      chars(`${B64URL}=\n`, 0, 24),
    )
    .map((parts) => parts.join("")),
);
const secret = fc.record(
  {
    value: fc.oneof(
      chars("abcXYZ019+/", 1, 40).map((s) => `whsec_${s}`),
      pick("whsec_", "whsec_a==", "whsec_a===", "x"),
      sealed,
    ),
    createdAt: datetime,
    expiresAt: datetime,
    extra: fc.string(),
  },
  { requiredKeys: ["value", "createdAt"] },
);
const headerName = fc.oneof(
  chars("AaZz09!#$%&'*+.^_`|~-", 1, 8),
  pick(
    "X-Tenant",
    "Webhook-Id",
    "content-type",
    "Content-Length",
    "Host",
    "hostname",
    "__proto__",
    "constructor",
    "",
    "a b",
    "Ä",
  ),
  fc.string({ minLength: 60, maxLength: 70 }),
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  pick("a\r\nb", "x".repeat(1025), "x".repeat(1024), "é"),
  sealed,
);
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 22 });
const eventType = fc.oneof(chars("az09._:-", 1, 12), pick(".a", "a b", "x".repeat(129), ""));
const int = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min: min - 2, max: max + 2 }),
    pick<unknown>(min, max, 1.5, -0, Number.NaN, 1e20, "5"),
  );

/** Mostly a plainly valid value, sometimes anything the generators above make. */
const mostly = <T, U>(good: fc.Arbitrary<T>, any: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: any });
const goodDatetime = fc
  .tuple(
    pick("2024", "2025"),
    pick("01", "02", "04", "12"),
    pick("01", "28", "29", "30", "31"),
    pick("", ".5", ".123"),
  )
  .map(([y, m, d, f]) => `${y}-${m}-${d}T10:20:30${f}Z`);
const goodSecret = fc.record(
  {
    value: fc.oneof(
      chars("abcXYZ019+/", 1, 40).map((s) => `whsec_${s}`),
      goodSealed(22, 120),
    ),
    createdAt: mostly(goodDatetime, datetime),
    expiresAt: mostly(goodDatetime, datetime),
  },
  { requiredKeys: ["value", "createdAt"] },
);

const candidate = fc
  .record(
    {
      id: mostly(
        chars(CROCKFORD, 26, 26).map((s) => `ep_${s}`),
        id,
      ),
      tenantId: mostly(
        pick("default", "acme", "cus_01.A-b_9"),
        pick<unknown>(".", "..", "", "a/b", "x".repeat(64), "x".repeat(65), 7, null),
      ),
      url: mostly(
        pick(
          "https://hooks.example.com/in",
          "http://localhost:8080/x",
          "https://a-b.io",
          "http://127.0.0.1:43117/hook/reg-1",
        ),
        url,
      ),
      description: mostly(fc.string({ maxLength: 10 }), pick("x".repeat(500), "x".repeat(501))),
      eventTypes: mostly(
        fc.array(chars("az09", 1, 5), { maxLength: 3 }),
        fc.array(eventType, { maxLength: 4 }),
      ),
      secrets: mostly(
        fc.array(goodSecret, { minLength: 1, maxLength: 2 }),
        fc.array(secret, { maxLength: 3 }),
      ),
      headers: mostly(
        fc.dictionary(chars("AaXx-", 1, 6), fc.oneof(chars("ab 1", 0, 5), goodSealed(22, 60)), {
          maxKeys: 3,
        }),
        headers,
      ),
      disabled: mostly(fc.boolean(), pick<unknown>(0, "true", null)),
      disabledReason: mostly(fc.string({ maxLength: 10 }), pick("x".repeat(200), "x".repeat(201))),
      rateLimitPerSecond: mostly(fc.integer({ min: 1, max: 100_000 }), int(1, 100_000)),
      timeoutMs: mostly(fc.integer({ min: 100, max: 30_000 }), int(100, 30_000)),
      retrySchedule: fc.oneof(fc.constant(["5s", "1m"]), fc.constant(["soon"]), fc.constant([])),
      retryPolicy: pick<unknown>(
        { strategy: "exponential", baseDelay: "5s", maxDelay: "1h", maxAttempts: 8, jitter: 0.2 },
        { strategy: "schedule", schedule: ["5s", "1m"] },
        { strategy: "fixed", maxAttempts: 21 },
        { strategy: "schedule" },
        { strategy: "sometimes" },
      ),
      maxInFlight: mostly(fc.integer({ min: 1, max: 1_000 }), int(1, 1_000)),
      backlogQuota: mostly(fc.integer({ min: 1, max: 100_000_000 }), int(1, 100_000_000)),
      failingSince: mostly(goodDatetime, datetime),
      format: mostly(
        pick("standard", "slack", "discord"),
        pick<unknown>("Slack", "teams", "", null, 1),
      ),
      createdAt: mostly(goodDatetime, datetime),
      updatedAt: mostly(goodDatetime, datetime),
      unknown: fc.string(),
    },
    {
      requiredKeys: ["id", "url", "eventTypes", "secrets", "disabled", "createdAt", "updatedAt"],
    },
  )
  .chain((value) =>
    fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })).map(([keepSchedule, n]) => {
      const { unknown, retrySchedule, retryPolicy, ...rest } = value;
      return {
        ...rest,
        ...(keepSchedule && n < 2 && retrySchedule ? { retrySchedule } : {}),
        ...(keepSchedule && n > 7 && retryPolicy ? { retryPolicy } : {}),
        ...(n === 0 && unknown !== undefined ? { unknown } : {}),
      };
    }),
  );
// Most generated records are invalid somewhere; also take them through JSON as KV holds them.
const asStored = candidate.map((value) => JSON.parse(JSON.stringify(value)) as unknown);

describe("parseEndpointRecord", () => {
  it("accepts on its quick path only what endpointRecordSchema accepts, unchanged", () => {
    let quick = 0;
    fc.assert(
      fc.property(asStored, (value) => {
        const zod = endpointRecordSchema.safeParse(value);
        const ours = parseEndpointRecord(value);
        expect(ours.success).toBe(zod.success);
        if (zod.success && ours.success) expect(ours.data).toEqual(zod.data);
        if (isPlainlyValidEndpointRecord(value)) {
          quick++;
          expect(zod.success).toBe(true);
          expect(zod.data).toEqual(value);
        }
      }),
      { numRuns: 5_000 },
    );
    expect(quick).toBeGreaterThan(100);
  });

  it("agrees with endpointRecordSchema field by field, on the edges of each quick check", () => {
    const base = {
      id: "ep_01JABCDEFGHJKMNPQRSTVWXYZA",
      url: "https://hooks.example.com/in",
      eventTypes: ["order.created"],
      secrets: [
        { value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: "2025-01-31T00:00:00Z" },
      ],
      disabled: false,
      createdAt: "2025-01-01T00:00:00Z",
      updatedAt: "2025-01-01T00:00:00Z",
    };
    const override = fc.oneof(
      id.map((v) => ({ id: v })),
      url.map((v) => ({ url: v })),
      pick<unknown>("acme", ".", "..", "a b", "x".repeat(65)).map((v) => ({ tenantId: v })),
      datetime.map((v) => ({ createdAt: v })),
      datetime.map((v) => ({ failingSince: v })),
      headers.map((v) => ({ headers: v })),
      fc.array(secret, { maxLength: 2 }).map((v) => ({ secrets: v })),
      fc.array(eventType, { maxLength: 3 }).map((v) => ({ eventTypes: v })),
      int(1, 1_000).map((v) => ({ maxInFlight: v })),
      pick<unknown>("standard", "slack", "discord", "SLACK", "").map((v) => ({ format: v })),
    );
    fc.assert(
      fc.property(override, (changes) => {
        const value = JSON.parse(JSON.stringify({ ...base, ...changes })) as unknown;
        if (!isPlainlyValidEndpointRecord(value)) return;
        const zod = endpointRecordSchema.safeParse(value);
        expect(zod.success).toBe(true);
        expect(zod.data).toEqual(value);
      }),
      { numRuns: 5_000 },
    );
  });

  it("takes the quick path for a typical record", () => {
    const record = {
      id: "ep_01JABCDEFGHJKMNPQRSTVWXYZA",
      url: "https://hooks.example.com/in",
      eventTypes: ["order.created"],
      secrets: [
        { value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: "2025-01-31T00:00:00Z" },
      ],
      headers: { "X-Tenant": "acme" },
      disabled: false,
      createdAt: "2024-02-29T00:00:00.123Z",
      updatedAt: "2025-01-01T00:00:00Z",
    };
    expect(isPlainlyValidEndpointRecord(record)).toBe(true);
    expect(isPlainlyValidEndpointRecord({ ...record, url: " https://hooks.example.com/in" })).toBe(
      false,
    );
    expect(isPlainlyValidEndpointRecord({ ...record, extra: 1 })).toBe(false);
    // What the benchmark registers.
    const local = { ...record, url: "http://127.0.0.1:43117/hook/reg-1" };
    expect(isPlainlyValidEndpointRecord(local)).toBe(true);
  });
});
