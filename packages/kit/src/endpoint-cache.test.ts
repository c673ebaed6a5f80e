import { DEFAULT_TENANT_ID, ENDPOINT_KV_HISTORY, type EndpointRecord } from "@hookline/contracts";
import { startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
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
  it("keeps each tenant's endpoints to itself, and follows a record into another tenant", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_tenant_test");
    const logger = createLogger({ service: "test", level: "silent", pretty: false });
    const inTenant = (id: string, tenantId: string | undefined, types: string[]) =>
      JSON.stringify({ ...record(id, types), ...(tenantId ? { tenantId } : {}) });
    await kv.put(EP_A, inTenant(EP_A, "acme", ["invoice.paid"]));
    await kv.put(EP_B, inTenant(EP_B, "globex", ["invoice.paid"]));
    await kv.put(EP_C, inTenant(EP_C, undefined, ["invoice.paid"]));
    await kv.put(EP_D, inTenant(EP_D, "acme", []));
    const cache = await startEndpointCache(kv, logger);
    await cache.ready;
    try {
      expect(ids(cache.subscribedTo("acme", "invoice.paid"))).toEqual(new Set([EP_A, EP_D]));
      expect(ids(cache.subscribedTo("globex", "invoice.paid"))).toEqual(new Set([EP_B]));
      // Records from before tenants are the default tenant's.
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "invoice.paid"))).toEqual(new Set([EP_C]));
      expect(ids(cache.subscribedTo("initech", "invoice.paid"))).toEqual(new Set());
      expect(ids(cache.subscribedTo("globex", "order.created"))).toEqual(new Set());

      const moved = await kv.put(EP_D, inTenant(EP_D, "globex", []));
      expect(await cache.waitForRevision(moved)).toBe(true);
      expect(ids(cache.subscribedTo("acme", "invoice.paid"))).toEqual(new Set([EP_A]));
      expect(ids(cache.subscribedTo("globex", "invoice.paid"))).toEqual(new Set([EP_B, EP_D]));
      expect(ids(cache.subscribedTo("acme", "order.created"))).toEqual(new Set());
    } finally {
      cache.stop();
      await nc.close();
    }
  });

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
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.created"))).toEqual(
        new Set([EP_A, EP_D]),
      );
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(
        new Set([EP_A, EP_D, EP_B]),
      );

      const changed = await kv.put(EP_A, JSON.stringify(record(EP_A, ["invoice.sent"])));
      expect(await cache.waitForRevision(changed)).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.created"))).toEqual(new Set([EP_D]));
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(
        new Set([EP_D, EP_B]),
      );
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "invoice.sent"))).toEqual(
        new Set([EP_A, EP_D]),
      );

      const everyType = await kv.put(EP_B, JSON.stringify(record(EP_B, [])));
      expect(await cache.waitForRevision(everyType)).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(
        new Set([EP_D, EP_B]),
      );
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "anything"))).toEqual(new Set([EP_D, EP_B]));

      await kv.delete(EP_A);
      await kv.delete(EP_B);
      const last = await kv.put(EP_C, JSON.stringify(record(EP_C, ["order.paid"])));
      expect(await cache.waitForRevision(last)).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "invoice.sent"))).toEqual(new Set([EP_D]));
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(
        new Set([EP_D, EP_C]),
      );
      expect(cache.get(EP_A)).toBeUndefined();
    } finally {
      cache.stop();
      await nc.close();
    }
  });
});

const silent = () => createLogger({ service: "test", level: "silent", pretty: false });
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const idFor = (i: number) =>
  `ep_01J${[...i.toString(32).padStart(23, "0")].map((d) => CROCKFORD[parseInt(d, 32)]).join("")}`;

/** The cache must match the bucket key by key, and its type index must match its records. */
async function expectMirrors(
  kv: Awaited<ReturnType<Kvm["create"]>>,
  cache: Awaited<ReturnType<typeof startEndpointCache>>,
  keys: string[],
  types: string[],
) {
  for (const key of keys) {
    const entry = await kv.get(key);
    const cached = cache.get(key);
    if (entry?.operation === "PUT" && entry.string().startsWith("{")) {
      const stored = entry.json<EndpointRecord>();
      if (stored.url === "not a url") expect(cached).toBeUndefined();
      else expect(cached).toEqual({ record: stored, revision: entry.revision });
    } else {
      expect(cached).toBeUndefined();
    }
  }
  const all = cache.all().map((c) => c.record);
  for (const type of types) {
    const expected = all.filter((r) => r.eventTypes.length === 0 || r.eventTypes.includes(type));
    expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, type))).toEqual(ids(expected));
  }
}

describe("the endpoint cache's replay", () => {
  it("replays a bucket larger than a batch, then follows live changes with no gap", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_replay_test", { history: 5 });
    const keys = Array.from({ length: 9_000 }, (_, i) => idFor(i));
    const types = ["t0", "t1", "t2", "t3"];
    await Promise.all(keys.map((k, i) => kv.put(k, JSON.stringify(record(k, [`t${i % 4}`])))));
    // Earlier revisions of some keys, which the replay must not apply after the later ones.
    for (const k of keys.slice(0, 50)) await kv.put(k, JSON.stringify(record(k, ["t1", "t2"])));
    await kv.delete(keys[60] as string);
    const warnings: unknown[] = [];
    const logger = silent();
    logger.warn = ((obj: unknown) => warnings.push(obj)) as typeof logger.warn;
    const cache = await startEndpointCache(kv, logger);
    // Writes racing the replay, and after it: none may be lost.
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const k = keys[(i * 37) % keys.length] as string;
      writes.push(
        i % 10 === 0 ? kv.delete(k) : kv.put(k, JSON.stringify(record(k, [`t${i % 3}`]))),
      );
    }
    await cache.ready;
    expect(cache.isReady()).toBe(true);
    await Promise.all(writes);
    try {
      const fresh = idFor(100_000);
      const last = await kv.put(fresh, JSON.stringify(record(fresh, ["t3"])));
      expect(await cache.waitForRevision(last)).toBe(true);
      expect(cache.get(fresh)?.revision).toBe(last);
      await expectMirrors(kv, cache, [...keys, fresh], types);
      // The bulk replay did it, not the watch it falls back to.
      expect(warnings).toEqual([]);
    } finally {
      cache.stop();
      await nc.close();
    }
  });

  it("lists an endpoint once per type, and drops deleted and purged keys, in the replay", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_replay_types_test");
    await kv.put(EP_A, JSON.stringify(record(EP_A, ["order.paid", "order.sent", "order.paid"])));
    await kv.put(EP_B, JSON.stringify(record(EP_B, ["order.paid"])));
    await kv.put(EP_C, JSON.stringify(record(EP_C, ["order.paid"])));
    await kv.put(EP_D, JSON.stringify(record(EP_D, ["order.paid"])));
    await kv.delete(EP_B);
    await kv.purge(EP_C);
    const cache = await startEndpointCache(kv, silent());
    await cache.ready;
    try {
      expect(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid").map((r) => r.id)).toEqual([
        EP_A,
        EP_D,
      ]);
      expect(cache.get(EP_B)).toBeUndefined();
      expect(cache.get(EP_C)).toBeUndefined();
      // The first change after the load: the type's list becomes a Set and still lists once.
      const changed = await kv.put(EP_D, JSON.stringify(record(EP_D, ["order.paid", "x"])));
      expect(await cache.waitForRevision(changed)).toBe(true);
      expect(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid").map((r) => r.id)).toEqual([
        EP_A,
        EP_D,
      ]);
      const moved = await kv.put(EP_A, JSON.stringify(record(EP_A, ["order.sent"])));
      expect(await cache.waitForRevision(moved)).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(new Set([EP_D]));
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.sent"))).toEqual(new Set([EP_A]));
    } finally {
      cache.stop();
      await nc.close();
    }
  });

  it("applies a record changed during the replay, moving it between type indexes", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_replay_change_test");
    const keys = Array.from({ length: 6_000 }, (_, i) => idFor(i));
    await Promise.all(keys.map((k) => kv.put(k, JSON.stringify(record(k, ["before"])))));
    const cache = await startEndpointCache(kv, silent());
    // The first key comes first in the replay, the last key last: change both while it runs.
    const first = keys[0] as string;
    const lastKey = keys[keys.length - 1] as string;
    const changed = await Promise.all([
      kv.put(first, JSON.stringify(record(first, ["after"]))),
      kv.put(lastKey, JSON.stringify(record(lastKey, ["after"]))),
    ]);
    await cache.ready;
    try {
      expect(await cache.waitForRevision(Math.max(...changed))).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "after"))).toEqual(
        new Set([first, lastKey]),
      );
      expect(cache.subscribedTo(DEFAULT_TENANT_ID, "before")).toHaveLength(keys.length - 2);
      expect(cache.get(first)?.record.eventTypes).toEqual(["after"]);
    } finally {
      cache.stop();
      await nc.close();
    }
  });

  it("logs and ignores invalid records, in the replay and live", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_invalid_test");
    const errors: unknown[] = [];
    const logger = silent();
    logger.error = ((obj: unknown) => errors.push(obj)) as typeof logger.error;
    await kv.put(EP_A, JSON.stringify(record(EP_A, ["order.paid"])));
    await kv.put(EP_B, JSON.stringify({ ...record(EP_B, ["order.paid"]), url: "not a url" }));
    await kv.put(EP_C, "{ not json");
    const cache = await startEndpointCache(kv, logger);
    await cache.ready;
    try {
      expect(cache.get(EP_A)).toBeDefined();
      expect(cache.get(EP_B)).toBeUndefined();
      expect(cache.get(EP_C)).toBeUndefined();
      // Known and unusable: a miss that does not wait.
      expect(await cache.lookup(EP_B, 60_000)).toBeUndefined();
      expect(errors).toHaveLength(2);

      const broken = await kv.put(EP_A, JSON.stringify({ ...record(EP_A, []), secrets: [] }));
      expect(await cache.waitForRevision(broken)).toBe(true);
      expect(cache.get(EP_A)).toBeUndefined();
      expect(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid")).toEqual([]);
      expect(errors).toHaveLength(3);

      const fixed = await kv.put(EP_B, JSON.stringify(record(EP_B, ["order.paid"])));
      expect(await cache.waitForRevision(fixed)).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(new Set([EP_B]));
    } finally {
      cache.stop();
      await nc.close();
    }
  });

  it("is ready at once for an empty bucket and still follows it", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_empty_test");
    const cache = await startEndpointCache(kv, silent());
    expect(cache.isReady()).toBe(true);
    try {
      const revision = await kv.put(EP_A, JSON.stringify(record(EP_A, [])));
      expect(await cache.waitForRevision(revision)).toBe(true);
      expect(cache.get(EP_A)?.revision).toBe(revision);
    } finally {
      cache.stop();
      await nc.close();
    }
  });

  it("replays through the watch when it cannot read the bucket's stream itself", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_fallback_test");
    // A bucket that hides nats.js's internals, as another KV implementation would.
    const hidden = new Proxy(kv, {
      get(target, property) {
        if (property === "jsm") return undefined;
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await kv.put(EP_A, JSON.stringify(record(EP_A, ["order.paid"])));
    await kv.put(EP_B, JSON.stringify({ ...record(EP_B, []), url: "not a url" }));
    const cache = await startEndpointCache(hidden, silent());
    await cache.ready;
    try {
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(new Set([EP_A]));
      expect(cache.get(EP_B)).toBeUndefined();
      const revision = await kv.put(EP_C, JSON.stringify(record(EP_C, ["order.paid"])));
      expect(await cache.waitForRevision(revision)).toBe(true);
      expect(ids(cache.subscribedTo(DEFAULT_TENANT_ID, "order.paid"))).toEqual(
        new Set([EP_A, EP_C]),
      );
    } finally {
      cache.stop();
      await nc.close();
    }
  });

  it("stops during the replay without starting a watch", async () => {
    const nc = await connect({ servers: server.url });
    const kv = await new Kvm(nc).create("cache_stop_test");
    const keys = Array.from({ length: 5_000 }, (_, i) => idFor(i));
    await Promise.all(keys.map((k) => kv.put(k, JSON.stringify(record(k, ["x"])))));
    const cache = await startEndpointCache(kv, silent());
    cache.stop();
    try {
      const jsm = await jetstreamManager(nc);
      // The replay's consumer is deleted, and no watch is started in its place.
      await expect
        .poll(async () => (await jsm.consumers.list("KV_cache_stop_test").next()).length)
        .toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      expect((await jsm.consumers.list("KV_cache_stop_test").next()).length).toBe(0);
    } finally {
      await nc.close();
    }
  });
});

describe("the endpoint cache's change listener", () => {
  it("reports live changes with the record before and after, and nothing of the start-up replay", async () => {
    const nc = await connect({ servers: server.url });
    // The registry's history, as provisioned: with one revision per key, EP_B's delete would
    // erase its creation from the stream before the watch, which starts after `ready`, reached it.
    const kv = await new Kvm(nc).create("cache_change_test", { history: ENDPOINT_KV_HISTORY });
    const logger = createLogger({ service: "test", level: "silent", pretty: false });
    await kv.put(EP_A, JSON.stringify(record(EP_A, [])));
    const changes: { id: string; revision: number; was?: boolean; is?: boolean }[] = [];
    const cache = await startEndpointCache(kv, logger, {
      onChange: ({ id, revision, previous, current }) =>
        changes.push({ id, revision, was: previous?.disabled, is: current?.disabled }),
    });
    await cache.ready;
    try {
      const disabled = await kv.put(EP_A, JSON.stringify({ ...record(EP_A, []), disabled: true }));
      const created = await kv.put(EP_B, JSON.stringify(record(EP_B, [])));
      await kv.delete(EP_B);
      const deleted = (await kv.status()).streamInfo.state.last_seq;
      expect(await cache.waitForRevision(deleted)).toBe(true);
      expect(changes).toEqual([
        { id: EP_A, revision: disabled, was: false, is: true },
        { id: EP_B, revision: created, was: undefined, is: false },
        { id: EP_B, revision: deleted, was: false, is: undefined },
      ]);
    } finally {
      cache.stop();
      await nc.close();
    }
  });
});
