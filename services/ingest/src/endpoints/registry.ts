import {
  DEFAULT_TENANT_ID,
  type EndpointFormat,
  type EndpointRecord,
  type EndpointRetryPolicy,
  endpointIdSchema,
  endpointRecordSchema,
  retryPolicyDelayProblem,
  tenantOfEndpoint,
} from "@hookline/contracts";
import type { EndpointCache, Logger } from "@hookline/kit";
import type { KV } from "@nats-io/kv";
import { monotonicFactory } from "ulid";
import { isRevisionConflict, StoreUnavailable, storeCall } from "../kv/store-calls";
import {
  type EndpointSealer,
  endpointSealer,
  generateSecret,
  rotatedSecrets,
  withoutExpiredSecrets,
} from "./secrets";

export interface NewEndpoint {
  /** The tenant it belongs to; DEFAULT_TENANT_ID when absent. Stored in the record either way. */
  tenantId?: string | undefined;
  url: string;
  eventTypes: string[];
  description?: string | undefined;
  headers?: Record<string, string> | undefined;
  rateLimitPerSecond?: number | undefined;
  timeoutMs?: number | undefined;
  retrySchedule?: string[] | undefined;
  retryPolicy?: EndpointRetryPolicy | undefined;
  maxInFlight?: number | undefined;
  backlogQuota?: number | undefined;
  format?: EndpointFormat | undefined;
  /** A `whsec_` secret to use; one is generated when absent. */
  secret?: string | undefined;
}

/** A partial update: `undefined` keeps a field, `null` clears an optional one. */
export interface EndpointChanges {
  url?: string | undefined;
  eventTypes?: string[] | undefined;
  description?: string | null | undefined;
  headers?: Record<string, string> | null | undefined;
  rateLimitPerSecond?: number | null | undefined;
  timeoutMs?: number | null | undefined;
  retrySchedule?: string[] | null | undefined;
  /** Setting it clears retrySchedule, and setting retrySchedule clears it: one or the other. */
  retryPolicy?: EndpointRetryPolicy | null | undefined;
  maxInFlight?: number | null | undefined;
  backlogQuota?: number | null | undefined;
  format?: EndpointFormat | null | undefined;
  disabled?: boolean | undefined;
  /** Becomes the newest secret; older ones stay valid for the rotation grace period. */
  secret?: string | undefined;
}

type Unavailable = { outcome: "unavailable" };
type NotFound = { outcome: "not_found" };
/** Other writers (another ingest, the classifier's auto-disable) kept winning the race. */
type Conflict = { outcome: "conflict" };

/** A field that the schema takes but this deployment can't honour. */
export type Invalid = { outcome: "invalid"; path: string; message: string };

export type CreateEndpointResult =
  | { outcome: "created"; record: EndpointRecord }
  | Invalid
  | Unavailable;
export type UpdateEndpointResult =
  | { outcome: "updated"; record: EndpointRecord }
  | Invalid
  | NotFound
  | Conflict
  | Unavailable;
export type RotateSecretResult =
  | { outcome: "rotated"; secret: string; record: EndpointRecord }
  | NotFound
  | Conflict
  | Unavailable;
export type DeleteEndpointResult = { outcome: "deleted" } | NotFound | Conflict | Unavailable;

/**
 * Writes to the endpoint bucket. Reads go through the EndpointCache instead. `owner`, when
 * given, is the tenant the endpoint must belong to: another tenant's endpoint is `not_found`,
 * exactly as a missing one.
 */
export interface EndpointRegistry {
  /** `actor` is the token holder; every change is logged with it (secrets never are). */
  create(input: NewEndpoint, actor: string): Promise<CreateEndpointResult>;
  update(
    id: string,
    changes: EndpointChanges,
    actor: string,
    owner?: string,
  ): Promise<UpdateEndpointResult>;
  rotateSecret(id: string, actor: string, owner?: string): Promise<RotateSecretResult>;
  /**
   * Deletes the key, then drops its earlier revisions (secrets, header values) with
   * `purgeHistory`. A delete whose purge failed (503) is finished by the next DELETE (404).
   */
  remove(id: string, actor: string, owner?: string): Promise<DeleteEndpointResult>;
}

export interface EndpointRegistryOptions {
  kv: KV;
  /** Our writes are awaited in it, so a read right after a write sees the write. */
  cache: Pick<EndpointCache, "waitForRevision">;
  isConnected: () => boolean;
  logger: Logger;
  /** ENDPOINT_BACKLOG_QUOTA: an endpoint's own backlogQuota may not be larger. */
  backlogQuotaLimit?: number;
  /** The longest of RETRY_TIERS: no delay of an endpoint's retryPolicy may be longer. */
  longestRetryTierMs?: number;
  /**
   * Seals secrets and header values before every write (HOOKLINE_ENCRYPTION_KEYS); absent, they
   * are written as given. Results carry the record as given, in plaintext.
   */
  sealer?: EndpointSealer;
  /**
   * Drops a deleted key's earlier revisions, keeping its delete marker (kv/key-history.ts).
   * Absent (some tests), deleted endpoints' revisions stay in the bucket's history.
   */
  purgeHistory?: (key: string) => Promise<void>;
  now?: () => number;
}

const MAX_WRITE_ATTEMPTS = 5;

/** False when `owner` is given and the record belongs to another tenant. */
const ownedBy = (record: EndpointRecord, owner: string | undefined) =>
  owner === undefined || tenantOfEndpoint(record) === owner;

type ClearableField =
  | "description"
  | "headers"
  | "rateLimitPerSecond"
  | "timeoutMs"
  | "retrySchedule"
  | "retryPolicy"
  | "maxInFlight"
  | "backlogQuota"
  | "format";

function setOrClear<K extends ClearableField>(
  record: EndpointRecord,
  field: K,
  value: EndpointRecord[K] | null | undefined,
): void {
  if (value === null) delete record[field];
  else if (value !== undefined) record[field] = value;
}

export function applyChanges(
  current: EndpointRecord,
  changes: EndpointChanges,
  actor: string,
  now: number,
): EndpointRecord {
  const next: EndpointRecord = {
    ...current,
    secrets: withoutExpiredSecrets(current.secrets, now),
    updatedAt: new Date(now).toISOString(),
  };
  if (changes.url !== undefined) next.url = changes.url;
  if (changes.eventTypes !== undefined) next.eventTypes = changes.eventTypes;
  setOrClear(next, "description", changes.description);
  setOrClear(next, "headers", changes.headers);
  setOrClear(next, "rateLimitPerSecond", changes.rateLimitPerSecond);
  setOrClear(next, "timeoutMs", changes.timeoutMs);
  setOrClear(next, "retrySchedule", changes.retrySchedule);
  setOrClear(next, "retryPolicy", changes.retryPolicy);
  // The newer setting replaces the other form: a record holds one of them.
  if (changes.retryPolicy) delete next.retrySchedule;
  if (changes.retrySchedule) delete next.retryPolicy;
  setOrClear(next, "maxInFlight", changes.maxInFlight);
  setOrClear(next, "backlogQuota", changes.backlogQuota);
  setOrClear(next, "format", changes.format);
  if (changes.disabled === false) {
    next.disabled = false;
    delete next.disabledReason;
    // Re-enabled: its failures start counting afresh.
    delete next.failingSince;
  } else if (changes.disabled === true && !current.disabled) {
    next.disabled = true;
    next.disabledReason = `disabled through the API by ${actor}`;
  }
  if (changes.secret !== undefined) next.secrets = rotatedSecrets(next, changes.secret, now);
  return next;
}

export function createEndpointRegistry(options: EndpointRegistryOptions): EndpointRegistry {
  const { kv, cache, isConnected, logger } = options;
  const sealer = options.sealer ?? endpointSealer(undefined);
  const now = options.now ?? Date.now;
  const nextUlid = monotonicFactory();

  const read = async (id: string, owner: string | undefined) => {
    const entry = await storeCall(() => kv.get(id));
    if (entry === null || entry.operation !== "PUT") return undefined;
    // A record that fails the schema is a bug in whoever wrote it: let it surface as a 500.
    const record = endpointRecordSchema.parse(entry.json());
    return ownedBy(record, owner) ? { record, revision: entry.revision } : undefined;
  };

  /** Runs a write, answering `unavailable` (not throwing) when NATS is down or times out. */
  const guarded = async <R>(what: string, write: () => Promise<R>): Promise<R | Unavailable> => {
    if (!isConnected()) return { outcome: "unavailable" };
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      logger.warn({ err: error.cause, operation: what }, "endpoint store unavailable");
      return { outcome: "unavailable" };
    }
  };

  /** Compare-and-set: re-reads and re-applies on a revision conflict. */
  const modify = async <R>(
    id: string,
    owner: string | undefined,
    what: string,
    change: (current: EndpointRecord, at: number) => EndpointRecord,
    done: (record: EndpointRecord) => R,
  ): Promise<R | NotFound | Conflict | Unavailable> => {
    if (!endpointIdSchema.safeParse(id).success) return { outcome: "not_found" };
    return guarded(what, async () => {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const current = await read(id, owner);
        if (current === undefined) return { outcome: "not_found" } as const;
        const next = endpointRecordSchema.parse(change(sealer.open(current.record), now()));
        const revision = await storeCall(async () => {
          try {
            return await kv.update(id, JSON.stringify(sealer.seal(next)), current.revision);
          } catch (error) {
            if (isRevisionConflict(error)) return undefined;
            throw error;
          }
        });
        if (revision !== undefined) {
          await cache.waitForRevision(revision);
          return done(next);
        }
      }
      return { outcome: "conflict" } as const;
    });
  };

  /** The server enforces ENDPOINT_BACKLOG_QUOTA per endpoint: an override can only lower it. */
  const quotaProblem = (quota: number | null | undefined): Invalid | undefined =>
    quota !== undefined &&
    quota !== null &&
    options.backlogQuotaLimit !== undefined &&
    quota > options.backlogQuotaLimit
      ? {
          outcome: "invalid",
          path: "backlogQuota",
          message: `at most ENDPOINT_BACKLOG_QUOTA (${options.backlogQuotaLimit})`,
        }
      : undefined;

  /** One retry setting per request, and no delay longer than the classifier can hold. */
  const retryProblem = (fields: {
    retrySchedule?: string[] | null | undefined;
    retryPolicy?: EndpointRetryPolicy | null | undefined;
  }): Invalid | undefined => {
    const policy = fields.retryPolicy;
    if (policy === undefined || policy === null) return undefined;
    if (fields.retrySchedule !== undefined && fields.retrySchedule !== null) {
      return {
        outcome: "invalid",
        path: "retryPolicy",
        message: "give retryPolicy or retrySchedule, not both (retryPolicy replaces it)",
      };
    }
    const longest = options.longestRetryTierMs;
    const problem = longest === undefined ? undefined : retryPolicyDelayProblem(policy, longest);
    return problem === undefined ? undefined : { outcome: "invalid", ...problem };
  };

  const changed = (endpointId: string, actor: string, change: string) =>
    logger.info({ endpointId, actor, change }, `endpoint ${change}`);

  return {
    async create(input, actor) {
      const invalid = quotaProblem(input.backlogQuota) ?? retryProblem(input);
      if (invalid) return invalid;
      return guarded("create", async () => {
        const at = now();
        const timestamp = new Date(at).toISOString();
        const { secret, tenantId, ...fields } = input;
        const record = endpointRecordSchema.parse({
          ...fields,
          id: `ep_${nextUlid(at)}`,
          tenantId: tenantId ?? DEFAULT_TENANT_ID,
          secrets: [{ value: secret ?? generateSecret(), createdAt: timestamp }],
          disabled: false,
          createdAt: timestamp,
          updatedAt: timestamp,
        });
        const sealed = JSON.stringify(sealer.seal(record));
        const revision = await storeCall(() => kv.create(record.id, sealed));
        await cache.waitForRevision(revision);
        changed(record.id, actor, "created");
        return { outcome: "created", record } as const;
      });
    },

    async update(id, changes, actor, owner) {
      const invalid = quotaProblem(changes.backlogQuota) ?? retryProblem(changes);
      if (invalid) return invalid;
      return modify(
        id,
        owner,
        "update",
        (current, at) => applyChanges(current, changes, actor, at),
        (record) => {
          changed(id, actor, "updated");
          return { outcome: "updated", record } as const;
        },
      );
    },

    rotateSecret(id, actor, owner) {
      const secret = generateSecret();
      return modify(
        id,
        owner,
        "rotate-secret",
        (current, at) => ({
          ...current,
          secrets: rotatedSecrets(current, secret, at),
          updatedAt: new Date(at).toISOString(),
        }),
        (record) => {
          changed(id, actor, "secret rotated");
          return { outcome: "rotated", secret, record } as const;
        },
      );
    },

    async remove(id, actor, owner) {
      if (!endpointIdSchema.safeParse(id).success) return { outcome: "not_found" };
      const purgeHistory = options.purgeHistory;
      return guarded("delete", async () => {
        for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
          const entry = await storeCall(() => kv.get(id));
          if (entry === null) return { outcome: "not_found" } as const;
          if (entry.operation !== "PUT") {
            // Deleted already; its history may have outlived a purge that failed.
            if (purgeHistory !== undefined) await storeCall(() => purgeHistory(id));
            return { outcome: "not_found" } as const;
          }
          const record = endpointRecordSchema.parse(entry.json());
          if (!ownedBy(record, owner)) return { outcome: "not_found" } as const;
          const deleted = await storeCall(async () => {
            try {
              await kv.delete(id, { previousSeq: entry.revision });
              return true;
            } catch (error) {
              if (isRevisionConflict(error)) return false;
              throw error;
            }
          });
          if (deleted) {
            // delete() does not return the revision of its marker; the key's latest entry is it
            // (or a later write, which is just as good for waiting).
            const marker = await storeCall(() => kv.get(id));
            if (purgeHistory !== undefined) await storeCall(() => purgeHistory(id));
            if (marker !== null) await cache.waitForRevision(marker.revision);
            changed(id, actor, "deleted");
            return { outcome: "deleted" } as const;
          }
        }
        return { outcome: "conflict" } as const;
      });
    },
  };
}
