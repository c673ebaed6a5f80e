import { endpointRecordSchema } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  putEndpoint,
  randomEndpointId,
  startClassifierHarness,
} from "../testing/classifier-harness";
import { createEndpointDisabler } from "./endpoint-disabler";

let nats: NatsServerHandle;
let h: ClassifierHarness;

beforeAll(async () => {
  nats = await startNatsServer();
  h = await startClassifierHarness({ natsUrl: nats.url, prefix: "dis" });
});

afterAll(async () => {
  await h?.close();
  await nats?.stop();
});

describe("createEndpointDisabler", () => {
  it("writes disabled with its reason at the next revision", async () => {
    const { record, revision } = await putEndpoint(h.kv, h.endpoints);
    const disabler = createEndpointDisabler({ kv: h.kv, endpoints: h.endpoints, now: () => 0 });
    const result = await disabler.disable(record.id, "410 Gone from endpoint");
    expect(result).toEqual({ outcome: "disabled", revision: expect.any(Number) });
    const entry = await h.kv.get(record.id);
    expect(entry?.revision).toBeGreaterThan(revision);
    expect(endpointRecordSchema.parse(entry?.json())).toEqual({
      ...record,
      disabled: true,
      disabledReason: "410 Gone from endpoint",
      updatedAt: "1970-01-01T00:00:00.000Z",
    });
  });

  it("re-reads and retries when its cached revision is stale", async () => {
    const { record, revision } = await putEndpoint(h.kv, h.endpoints);
    const stale = { record, revision };
    await h.kv.put(record.id, JSON.stringify({ ...record, description: "changed meanwhile" }));
    const disabler = createEndpointDisabler({ kv: h.kv, endpoints: { get: () => stale } });
    expect((await disabler.disable(record.id, "gone")).outcome).toBe("disabled");
    const stored = endpointRecordSchema.parse((await h.kv.get(record.id))?.json());
    expect(stored).toMatchObject({ description: "changed meanwhile", disabled: true });
  });

  it("leaves an endpoint that is disabled already as it is", async () => {
    const { record, revision } = await putEndpoint(h.kv, h.endpoints, {
      disabled: true,
      disabledReason: "by an operator",
    });
    const disabler = createEndpointDisabler({ kv: h.kv, endpoints: h.endpoints });
    expect(await disabler.disable(record.id, "gone")).toEqual({ outcome: "already_disabled" });
    expect((await h.kv.get(record.id))?.revision).toBe(revision);
  });

  it("reports a missing endpoint, deleted ones included, and writes nothing", async () => {
    const disabler = createEndpointDisabler({ kv: h.kv, endpoints: { get: () => undefined } });
    const unknown = randomEndpointId();
    expect(await disabler.disable(unknown, "gone")).toEqual({ outcome: "missing" });
    expect(await h.kv.get(unknown)).toBeNull();

    const { record, revision } = await putEndpoint(h.kv, h.endpoints);
    await h.kv.delete(record.id);
    // The cache may still hold it; the write's revision check finds it deleted.
    const stale = createEndpointDisabler({
      kv: h.kv,
      endpoints: { get: () => ({ record, revision }) },
    });
    expect(await stale.disable(record.id, "gone")).toEqual({ outcome: "missing" });
  });

  it("refuses to write over a record that fails the schema", async () => {
    const id = randomEndpointId();
    await h.kv.put(id, JSON.stringify({ id, nonsense: true }));
    const disabler = createEndpointDisabler({ kv: h.kv, endpoints: { get: () => undefined } });
    expect((await disabler.disable(id, "gone")).outcome).toBe("invalid");
  });
});
