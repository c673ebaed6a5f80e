import type { EndpointRecord } from "@hookline/contracts";
import { startNatsServer } from "@hookline/testkit";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEndpointCache } from "./endpoint-cache";
import { createLogger } from "./logger";

let server: Awaited<ReturnType<typeof startNatsServer>>;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(() => server?.stop());

const record = (id: string, eventTypes: string[]): EndpointRecord => ({
  id,
  url: "https://hooks.example.com/in",
  eventTypes,
  secrets: [{ value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: "2025-01-01T00:00:00Z" }],
  disabled: false,
  createdAt: "2025-01-01T00:00:00Z",
  updatedAt: "2025-01-01T00:00:00Z",
});
// Registry ids are ULIDs.
const EP_A = "ep_01JABCDEFGHJKMNPQRSTVWXYZA";
const EP_B = "ep_01JABCDEFGHJKMNPQRSTVWXYZB";
const EP_C = "ep_01JABCDEFGHJKMNPQRSTVWXYZC";
const EP_D = "ep_01JABCDEFGHJKMNPQRSTVWXYZD";
const ids = (records: EndpointRecord[]) => new Set(records.map((r) => r.id));

describe("the endpoint cache's type index", () => {
  it("follows an endpoint's types through a change and a delete", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_index_test");
    const logger = createLogger({ service: "test", level: "silent", pretty: false });
    await kv.put(EP_A, JSON.stringify(record(EP_A, ["order.created", "order.paid"])));
    await kv.put(EP_B, JSON.stringify(record(EP_B, ["order.paid"])));
    await kv.put(EP_D, JSON.stringify(record(EP_D, [])));
    const cache = await startEndpointCache(kv, logger);
    await cache.ready;
    try {
      expect(ids(cache.subscribedTo("order.created"))).toEqual(new Set([EP_A, EP_D]));
      expect(ids(cache.subscribedTo("order.paid"))).toEqual(new Set([EP_A, EP_D, EP_B]));

      const changed = await kv.put(EP_A, JSON.stringify(record(EP_A, ["invoice.sent"])));
      expect(await cache.waitForRevision(changed)).toBe(true);
      expect(ids(cache.subscribedTo("order.created"))).toEqual(new Set([EP_D]));
      expect(ids(cache.subscribedTo("order.paid"))).toEqual(new Set([EP_D, EP_B]));
      expect(ids(cache.subscribedTo("invoice.sent"))).toEqual(new Set([EP_A, EP_D]));

      const everyType = await kv.put(EP_B, JSON.stringify(record(EP_B, [])));
      expect(await cache.waitForRevision(everyType)).toBe(true);
      expect(ids(cache.subscribedTo("order.paid"))).toEqual(new Set([EP_D, EP_B]));
      expect(ids(cache.subscribedTo("anything"))).toEqual(new Set([EP_D, EP_B]));

      await kv.delete(EP_A);
      await kv.delete(EP_B);
      const last = await kv.put(EP_C, JSON.stringify(record(EP_C, ["order.paid"])));
      expect(await cache.waitForRevision(last)).toBe(true);
      expect(ids(cache.subscribedTo("invoice.sent"))).toEqual(new Set([EP_D]));
      expect(ids(cache.subscribedTo("order.paid"))).toEqual(new Set([EP_D, EP_C]));
      expect(cache.get(EP_A)).toBeUndefined();
    } finally {
      cache.stop();
      await nc.close();
    }
  });
});
