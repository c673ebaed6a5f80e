import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_PAYLOAD_DEPTH } from "../events/payload-depth";
import { checkBatch, checkEvent, checkIdempotencyKey } from "./event-checks";
import { batchBodySchema, eventBodySchema, idempotencyHeadersSchema } from "./event-schemas";

const nested = (levels: number): unknown => {
  let value: unknown = 1;
  for (let n = 0; n < levels; n++) value = n % 2 === 0 ? [value] : { v: value };
  return value;
};

const endpointId = fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/).map((ulid) => `ep_${ulid}`);
const almost = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 1, arbitrary: fc.string({ maxLength: 140 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
/** Mostly valid events with each field now and then wrong, missing or of another type. */
const event = fc.record(
  {
    eventType: almost(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,140}$/)),
    payload: fc.oneof(
      { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(MAX_PAYLOAD_DEPTH, MAX_PAYLOAD_DEPTH + 1).map(nested),
      },
    ),
    id: almost(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:~ -]{0,140}$/)),
    endpointIds: almost(
      fc.array(fc.oneof({ weight: 8, arbitrary: endpointId }, fc.string()), { maxLength: 3 }),
    ),
    extra: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
);
/** As it would come out of JSON.parse. */
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

describe("the fast path's checks accept exactly what the zod schemas accept", () => {
  it("for events", () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 5, arbitrary: event }, fc.jsonValue()), (value) => {
        const input = asJson(value);
        const zod = eventBodySchema.safeParse(input);
        const checked = checkEvent(input);
        expect(checked !== undefined).toBe(zod.success);
        if (zod.success) expect(checked).toEqual(zod.data);
      }),
      { numRuns: 3_000 },
    );
  });

  it("for batches", () => {
    const batch = fc.record(
      { events: fc.oneof(fc.array(event, { maxLength: 4 }), fc.jsonValue({ maxDepth: 1 })) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof({ weight: 5, arbitrary: batch }, fc.jsonValue()), (value) => {
        const input = asJson(value);
        const zod = batchBodySchema.safeParse(input);
        const checked = checkBatch(input);
        expect(checked !== undefined).toBe(zod.success);
        if (zod.success) expect(checked).toEqual(zod.data.events);
      }),
      { numRuns: 2_000 },
    );
  });

  it("at the limits: depth, endpoint ids, batch size", () => {
    const valid = { eventType: "a.b", payload: 1 };
    const ids = (count: number) => Array.from({ length: count }, () => `ep_${"A".repeat(26)}`);
    const cases: unknown[] = [
      { ...valid, payload: nested(MAX_PAYLOAD_DEPTH) },
      { ...valid, payload: nested(MAX_PAYLOAD_DEPTH + 1) },
      { ...valid, payload: null },
      { ...valid, endpointIds: [] },
      { ...valid, endpointIds: ids(1_000) },
      { ...valid, endpointIds: ids(1_001) },
      { ...valid, id: "x".repeat(128) },
      { ...valid, id: "x".repeat(129) },
      { ...valid, eventType: "t".repeat(129) },
      { ...valid, id: null },
      [valid],
    ];
    for (const value of cases) {
      expect(checkEvent(value) !== undefined, JSON.stringify(value).slice(0, 80)).toBe(
        eventBodySchema.safeParse(value).success,
      );
    }
    for (const count of [0, 1, 500, 501]) {
      const value = { events: Array.from({ length: count }, () => valid) };
      expect(checkBatch(value) !== undefined, `${count} events`).toBe(
        batchBodySchema.safeParse(value).success,
      );
    }
  });

  it("for the Idempotency-Key header", () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 140 }), { nil: undefined }), (key) => {
        const zod = idempotencyHeadersSchema.safeParse(
          key === undefined ? {} : { "idempotency-key": key },
        );
        expect(checkIdempotencyKey(key)).toBe(zod.success);
      }),
      { numRuns: 1_000 },
    );
  });
});
