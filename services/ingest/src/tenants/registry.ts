import {
  DEFAULT_TENANT_ID,
  type TenantRecord,
  tenantIdSchema,
  tenantKvKey,
  tenantOfEndpoint,
  tenantRecordSchema,
} from "@hookline/contracts";
import type { EndpointCache, Logger } from "@hookline/kit";
import type { KV } from "@nats-io/kv";
import { monotonicFactory } from "ulid";
import type { EndpointRegistry } from "../endpoints/registry";
import { casWrite, StoreUnavailable, storeCall } from "../kv/store-calls";
import type { TenantView } from "./tenant-view";

export interface NewTenant {
  /** Generated (`ten_` + ULID) when absent. */
  id?: string | undefined;
  name: string;
  metadata?: Record<string, string> | undefined;
}

/** A partial update: `undefined` keeps a field, `null` clears metadata. */
export interface TenantChanges {
  name?: string | undefined;
  metadata?: Record<string, string> | null | undefined;
}

type Unavailable = { outcome: "unavailable" };
type NotFound = { outcome: "not_found" };
type Conflict = { outcome: "conflict" };
/** Its deletion has begun: it takes no changes, endpoints or events; DELETE finishes it. */
type Deleting = { outcome: "deleting" };

export type CreateTenantResult =
  | { outcome: "created"; record: TenantRecord }
  | { outcome: "exists" }
  | Unavailable;
export type UpdateTenantResult =
  | { outcome: "updated"; record: TenantRecord }
  | NotFound
  | Deleting
  | Conflict
  | Unavailable;
export type DeleteTenantResult =
  | { outcome: "deleted"; endpointsDeleted: number }
  | { outcome: "default_tenant" }
  | NotFound
  | Conflict
  | Unavailable;

/** Writes to the tenants bucket. Reads go through the TenantView. */
export interface TenantRegistry {
  create(input: NewTenant, actor: string): Promise<CreateTenantResult>;
  update(id: string, changes: TenantChanges, actor: string): Promise<UpdateTenantResult>;
  /**
   * Marks the tenant `deleting`, deletes (purges) every endpoint of it, then the record. Safe to
   * call again after any failure: it picks up where the last call stopped.
   */
  remove(id: string, actor: string): Promise<DeleteTenantResult>;
}

export interface TenantRegistryOptions {
  kv: KV;
  view: Pick<TenantView, "waitForRevision">;
  endpoints: Pick<EndpointRegistry, "remove">;
  endpointCache: Pick<EndpointCache, "all" | "waitForRevision">;
  isConnected: () => boolean;
  logger: Logger;
  now?: () => number;
}

const MAX_WRITE_ATTEMPTS = 5;
/** Endpoints deleted at once while a tenant is deleted. */
const DELETE_CONCURRENCY = 16;
/**
 * Sweeps over the tenant's endpoints: a create that checked the tenant just before it was
 * marked may land after a sweep, so sweeping ends only when one finds nothing.
 */
const MAX_DELETE_SWEEPS = 5;

/** What the implicit default tenant looks like until it is changed through the API. */
export const IMPLICIT_DEFAULT_TENANT: TenantRecord = {
  id: DEFAULT_TENANT_ID,
  name: "Default tenant",
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
};

export function applyTenantChanges(
  current: TenantRecord,
  changes: TenantChanges,
  now: number,
): TenantRecord {
  const next: TenantRecord = { ...current, updatedAt: new Date(now).toISOString() };
  if (changes.name !== undefined) next.name = changes.name;
  if (changes.metadata === null) delete next.metadata;
  else if (changes.metadata !== undefined) next.metadata = changes.metadata;
  return next;
}

export function createTenantRegistry(options: TenantRegistryOptions): TenantRegistry {
  const { kv, view, endpoints, endpointCache, isConnected, logger } = options;
  const now = options.now ?? Date.now;
  const nextUlid = monotonicFactory();

  const read = async (id: string) => {
    const entry = await storeCall(() => kv.get(tenantKvKey(id)));
    if (entry === null || entry.operation !== "PUT") return undefined;
    return { record: tenantRecordSchema.parse(entry.json()), revision: entry.revision };
  };

  const guarded = async <R>(what: string, write: () => Promise<R>): Promise<R | Unavailable> => {
    if (!isConnected()) return { outcome: "unavailable" };
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      logger.warn({ err: error.cause, operation: what }, "tenant store unavailable");
      return { outcome: "unavailable" };
    }
  };

  const changed = (tenantId: string, actor: string, change: string, more?: object) =>
    logger.info({ tenantId, actor, change, ...more }, `tenant ${change}`);

  /** Deletes every endpoint of the tenant the cache knows; how many, or why it stopped. */
  const deleteEndpoints = async (
    tenantId: string,
    actor: string,
  ): Promise<{ outcome: "swept"; deleted: number } | Conflict | Unavailable> => {
    let deleted = 0;
    for (let sweep = 1; sweep <= MAX_DELETE_SWEEPS; sweep++) {
      const ids = endpointCache
        .all()
        .filter(({ record }) => tenantOfEndpoint(record) === tenantId)
        .map(({ record }) => record.id);
      if (ids.length === 0) return { outcome: "swept", deleted };
      for (let start = 0; start < ids.length; start += DELETE_CONCURRENCY) {
        const results = await Promise.all(
          ids
            .slice(start, start + DELETE_CONCURRENCY)
            .map((id) => endpoints.remove(id, actor, tenantId)),
        );
        for (const result of results) {
          if (result.outcome === "deleted") deleted++;
          else if (result.outcome !== "not_found") return result;
        }
      }
    }
    // Endpoints kept appearing: the tenant stays `deleting`, and a retry goes on from here.
    return { outcome: "conflict" };
  };

  return {
    create(input, actor) {
      return guarded("create", async () => {
        const id = input.id ?? `ten_${nextUlid(now())}`;
        if (id === DEFAULT_TENANT_ID) return { outcome: "exists" } as const;
        const timestamp = new Date(now()).toISOString();
        const record = tenantRecordSchema.parse({
          id,
          name: input.name,
          ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
          createdAt: timestamp,
          updatedAt: timestamp,
        });
        const revision = await casWrite(() => kv.create(tenantKvKey(id), JSON.stringify(record)));
        if (revision === undefined) return { outcome: "exists" } as const;
        await view.waitForRevision(revision);
        changed(id, actor, "created");
        return { outcome: "created", record } as const;
      });
    },

    update(id, changes, actor) {
      if (!tenantIdSchema.safeParse(id).success) return Promise.resolve({ outcome: "not_found" });
      return guarded("update", async () => {
        for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
          const current = await read(id);
          if (current === undefined && id !== DEFAULT_TENANT_ID) {
            return { outcome: "not_found" } as const;
          }
          if (current?.record.deleting === true) return { outcome: "deleting" } as const;
          const next = tenantRecordSchema.parse(
            applyTenantChanges(current?.record ?? IMPLICIT_DEFAULT_TENANT, changes, now()),
          );
          const key = tenantKvKey(id);
          const body = JSON.stringify(next);
          // The default tenant gets a stored record on its first change.
          const revision = await casWrite(() =>
            current === undefined ? kv.create(key, body) : kv.update(key, body, current.revision),
          );
          if (revision !== undefined) {
            await view.waitForRevision(revision);
            changed(id, actor, "updated");
            return { outcome: "updated", record: next } as const;
          }
        }
        return { outcome: "conflict" } as const;
      });
    },

    remove(id, actor) {
      if (id === DEFAULT_TENANT_ID) return Promise.resolve({ outcome: "default_tenant" });
      if (!tenantIdSchema.safeParse(id).success) return Promise.resolve({ outcome: "not_found" });
      return guarded("delete", async () => {
        const key = tenantKvKey(id);
        // 1. Mark it, so no new endpoints or events are taken while its endpoints go.
        let marked: { record: TenantRecord; revision: number } | undefined;
        for (let attempt = 1; marked === undefined && attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
          const current = await read(id);
          if (current === undefined) return { outcome: "not_found" } as const;
          if (current.record.deleting === true) {
            marked = current;
            break;
          }
          const record: TenantRecord = {
            ...current.record,
            deleting: true,
            updatedAt: new Date(now()).toISOString(),
          };
          const revision = await casWrite(() =>
            kv.update(key, JSON.stringify(record), current.revision),
          );
          if (revision !== undefined) {
            await view.waitForRevision(revision);
            marked = { record, revision };
            changed(id, actor, "deletion started");
          }
        }
        if (marked === undefined) return { outcome: "conflict" } as const;

        // 2. Its endpoints: their queued tasks dead-letter as endpoint_deleted in delivery.
        const swept = await deleteEndpoints(id, actor);
        if (swept.outcome !== "swept") return swept;

        // 3. The record. The bucket keeps one revision per key, so the delete marker replaces
        // it; no kv.purge() (a rollup: see kv/key-history.ts).
        for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
          const expected = marked.revision;
          const purged = await casWrite(async () => {
            await kv.delete(key, { previousSeq: expected });
            return expected;
          });
          if (purged !== undefined) {
            const marker = await storeCall(() => kv.get(key));
            if (marker !== null) await view.waitForRevision(marker.revision);
            changed(id, actor, "deleted", { endpointsDeleted: swept.deleted });
            return { outcome: "deleted", endpointsDeleted: swept.deleted } as const;
          }
          const current = await read(id);
          if (current === undefined) {
            return { outcome: "deleted", endpointsDeleted: swept.deleted } as const;
          }
          marked = current;
        }
        return { outcome: "conflict" } as const;
      });
    },
  };
}
