import { type EndpointRecord, tenantOfEndpoint } from "@hookline/contracts";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { parseEndpointRecord } from "./endpoint-record-parse";
import { type BulkReplay, startBulkReplay } from "./endpoint-replay";
import { createRevisionWatermark } from "./revision-watermark";

type KvWatcher = Awaited<ReturnType<KV["watch"]>>;
const decoder = new TextDecoder();

export interface CachedEndpoint {
  record: EndpointRecord;
  /** KV revision, for compare-and-set writes. */
  revision: number;
}

/**
 * An in-memory copy of the endpoint bucket, kept current by a KV watch, so that fan-out and
 * delivery never read KV per message.
 */
export interface EndpointCache {
  get(id: string): CachedEndpoint | undefined;
  /**
   * Like get(), but a miss is not final at once: the watch may lag behind a write (after a
   * reconnect, say), so for an id the cache has never seen deleted it reads the key's latest
   * revision and waits up to `timeoutMs` for the watch to catch up. Only misses pay for this.
   */
  lookup(id: string, timeoutMs: number): Promise<CachedEndpoint | undefined>;
  /**
   * Endpoints subscribed to an event type (an empty `eventTypes` means every type), disabled ones
   * included: their tasks dead-letter as `endpoint_disabled`, so nothing is lost while one is off.
   */
  subscribedTo(tenantId: string, eventType: string): EndpointRecord[];
  all(): CachedEndpoint[];
  /** Resolves once the watch has replayed the bucket as it stood when the watch began. */
  ready: Promise<void>;
  isReady(): boolean;
  /** Resolves when the cache holds at least `revision` (after our own writes). */
  waitForRevision(revision: number, timeoutMs?: number): Promise<boolean>;
  stop(): void;
}

/** One change the live watch applied (never the replay at start-up). */
export interface EndpointChange {
  id: string;
  revision: number;
  /** The record before it; undefined for a new (or before invalid) endpoint. */
  previous: EndpointRecord | undefined;
  /** The record after it; undefined once deleted (or invalid). */
  current: EndpointRecord | undefined;
}

export interface EndpointCacheOptions {
  /** For tests: each watched change is applied this much later, as a lagging watch would. */
  applyDelayMs?: number;
  /**
   * Called for each change once the cache is ready (ingest's operational events). A revision the
   * bucket no longer holds when the watch reaches it (superseded by more than its history allows
   * while the watch lagged) is not reported: the next change reports against the last one seen.
   */
  onChange?: (change: EndpointChange) => void;
}

/** Deleted ids remembered, so tasks of a deleted endpoint don't each read KV on their miss. */
const TOMBSTONES = 10_000;

/** A newline is in neither a tenant id nor an event type. */
const typeKey = (tenantId: string, eventType: string) => `${tenantId}\n${eventType}`;

export async function startEndpointCache(
  kv: KV,
  logger: Logger,
  options: EndpointCacheOptions = {},
): Promise<EndpointCache> {
  const byId = new Map<string, CachedEndpoint>();
  const deleted = new Set<string>();
  // A type's ids are an array until one is removed: a load only appends, and appending to an
  // array costs less than adding to a Set (less memory too); the first removal makes it a Set.
  // Keyed by tenant and type (typeKey): an event reaches only its own tenant's endpoints.
  const byType = new Map<string, string[] | Set<string>>();
  /** Per tenant, the endpoints that take every type (no eventTypes). */
  const everyType = new Map<string, Set<string>>();
  const watermark = createRevisionWatermark();

  // Only the types of the record being replaced: scanning every type per change made loading a
  // registry quadratic (100,000 endpoints over 1,000 types took minutes).
  const unindex = (id: string) => {
    const previous = byId.get(id)?.record;
    if (!previous) return;
    const tenant = tenantOfEndpoint(previous);
    if (previous.eventTypes.length === 0) {
      const all = everyType.get(tenant);
      all?.delete(id);
      if (all?.size === 0) everyType.delete(tenant);
    }
    for (const type of previous.eventTypes) {
      const key = typeKey(tenant, type);
      const listed = byType.get(key);
      if (listed === undefined) continue;
      const ids = Array.isArray(listed) ? new Set(listed) : listed;
      if (ids !== listed) byType.set(key, ids);
      ids.delete(id);
      if (ids.size === 0) byType.delete(key);
    }
  };
  const index = (record: EndpointRecord, key: string) => {
    // The key's string has its hash already: use it when it is the id, as it should be.
    const id = record.id === key ? key : record.id;
    const tenant = tenantOfEndpoint(record);
    if (record.eventTypes.length === 0) {
      const all = everyType.get(tenant);
      if (all === undefined) everyType.set(tenant, new Set([id]));
      else all.add(id);
    }
    for (const type of record.eventTypes) {
      const indexKey = typeKey(tenant, type);
      const ids = byType.get(indexKey);
      if (ids === undefined) {
        byType.set(indexKey, id === key ? [id] : new Set([id]));
      } else if (!Array.isArray(ids)) {
        ids.add(id);
      } else if (id === key) {
        // Its key was just unindexed, so the id is in no array but for a type listed twice.
        if (ids[ids.length - 1] !== id) ids.push(id);
      } else {
        // Another key's record claims this id: only a Set keeps it listed once.
        byType.set(indexKey, new Set(ids).add(id));
      }
    }
  };

  const invalid = (key: string, error: string) => {
    byId.delete(key);
    // Known and unusable: its tasks need not wait for the watch.
    deleted.add(key);
    logger.error({ endpointId: key, error }, "endpoint record is invalid; ignored");
  };
  /** Applies one change of the bucket: `value` is the text of a PUT. */
  const apply = (key: string, revision: number, operation: string, value: string) => {
    const previous = readyNow ? byId.get(key)?.record : undefined;
    unindex(key);
    if (operation === "PUT") {
      if (deleted.size > 0) deleted.delete(key);
      let json: unknown;
      try {
        json = JSON.parse(value);
      } catch (error) {
        invalid(key, (error as Error).message);
        json = undefined;
      }
      if (json !== undefined) {
        const parsed = parseEndpointRecord(json);
        if (parsed.success) {
          byId.set(key, { record: parsed.data, revision });
          index(parsed.data, key);
        } else {
          invalid(key, parsed.error.message);
        }
      }
    } else {
      byId.delete(key);
      deleted.add(key);
      // A Set iterates in insertion order: drop the oldest tombstone.
      if (deleted.size > TOMBSTONES) deleted.delete(deleted.values().next().value as string);
    }
    if (readyNow && options.onChange) {
      try {
        options.onChange({ id: key, revision, previous, current: byId.get(key)?.record });
      } catch (error) {
        logger.error({ err: error, endpointId: key }, "endpoint change listener failed");
      }
    }
    watermark.applied(revision);
  };

  const status = await kv.status();
  const startSeq = status.streamInfo.state.last_seq;
  let readyNow = startSeq === 0;
  let markReady: () => void = () => {};
  const ready = readyNow
    ? Promise.resolve()
    : new Promise<void>((resolve) => (markReady = resolve));

  let stopped = false;
  let watcher: KvWatcher | undefined;
  const follow = async (watch: KvWatcher) => {
    for await (const entry of watch) {
      if (options.applyDelayMs) await new Promise((r) => setTimeout(r, options.applyDelayMs));
      // Getters that parse the message's reply subject and headers each time: read once.
      const revision = entry.revision;
      const operation = entry.operation;
      apply(entry.key, revision, operation, operation === "PUT" ? decoder.decode(entry.value) : "");
      if (!readyNow && (revision >= startSeq || entry.isUpdate)) {
        readyNow = true;
        markReady();
      }
    }
  };

  // nats.js's watcher costs too much per entry to load a large registry at start-up: replay
  // the latest value of each key with big pull batches, then watch from the next revision on.
  // A lagging watch is simulated per entry, so tests that ask for one get the watcher throughout.
  let replay: BulkReplay | undefined;
  if (!readyNow && !options.applyDelayMs) {
    try {
      replay = await startBulkReplay(kv, status, startSeq, apply);
    } catch (error) {
      // No consumer of our own (permissions, say): the watch replays the bucket instead.
      logger.warn({ err: error }, "endpoint replay could not start; replaying through the watch");
    }
  }
  if (replay) {
    void (async () => {
      let next: number;
      try {
        next = (await replay.done) + 1;
      } catch (error) {
        if (stopped) return;
        // Whatever was applied is still right; the watch below replays every key again.
        logger.warn({ err: error }, "endpoint replay failed; replaying through the watch");
        next = 0;
      }
      if (stopped) return;
      if (next > 0 && !readyNow) {
        readyNow = true;
        markReady();
      }
      // The cache is ready but not yet live: keep trying to start the watch.
      for (let attempt = 1; ; attempt++) {
        try {
          watcher = await kv.watch(next > 0 ? { resumeFromRevision: next } : {});
          break;
        } catch (error) {
          if (stopped) return;
          logger.error({ err: error, attempt }, "endpoint watch could not start; retrying");
          await new Promise((r) => setTimeout(r, Math.min(attempt, 5) * 1_000));
          if (stopped) return;
        }
      }
      if (stopped) watcher.stop();
      await follow(watcher);
    })().catch((error: unknown) => logger.error({ err: error }, "endpoint watch ended"));
  } else {
    watcher = await kv.watch();
    void follow(watcher).catch((error: unknown) =>
      logger.error({ err: error }, "endpoint watch ended"),
    );
  }

  const waitForRevision = watermark.waitFor;

  return {
    get: (id) => byId.get(id),
    async lookup(id, timeoutMs) {
      const cached = byId.get(id);
      if (cached || deleted.has(id)) return cached;
      let latest: Awaited<ReturnType<KV["get"]>>;
      try {
        latest = await kv.get(id);
      } catch (error) {
        // An invalid key or an outage: the cache is all there is.
        logger.debug({ err: error, endpointId: id }, "endpoint lookup failed");
        return undefined;
      }
      if (latest?.operation !== "PUT") return undefined;
      await waitForRevision(latest.revision, timeoutMs);
      return byId.get(id);
    },
    all: () => [...byId.values()],
    subscribedTo(tenantId, eventType) {
      const result: EndpointRecord[] = [];
      for (const id of everyType.get(tenantId) ?? []) {
        const record = byId.get(id)?.record;
        if (record) result.push(record);
      }
      for (const id of byType.get(typeKey(tenantId, eventType)) ?? []) {
        const record = byId.get(id)?.record;
        if (record) result.push(record);
      }
      return result;
    },
    ready,
    isReady: () => readyNow,
    waitForRevision,
    stop: () => {
      stopped = true;
      replay?.stop();
      watcher?.stop();
    },
  };
}
