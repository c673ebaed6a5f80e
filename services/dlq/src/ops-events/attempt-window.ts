import type { NewAttemptRow } from "../db/schema";
import type { EndpointAttempts } from "./ops-events";

/** What the window reads of an attempt row (the attempt log's rows, as written). */
export type CountedAttempt = Pick<
  NewAttemptRow,
  "endpoint_id" | "tenant_id" | "result" | "attempted_at"
>;

/**
 * Each endpoint's attempts and failures (result other than `delivered`) over the failure-rate
 * window, counted in memory from the batches the attempt log has written: the timer sums it
 * instead of scanning the window's rows in Postgres (~1.5 million at 5,000 attempts/s).
 */
export interface AttemptWindow {
  /** A written batch's rows (once per batch, never per record elsewhere). */
  add(rows: readonly CountedAttempt[]): void;
  /**
   * Endpoints with at least `minAttempts` in the window ending at `now`; endpoints with none
   * left in it are forgotten. `uncounted`: rows left out since the last read, the cap reached.
   */
  read(now: number, minAttempts: number): { endpoints: EndpointAttempts[]; uncounted: number };
  /** Endpoints tracked now. */
  readonly size: number;
}

export interface AttemptWindowOptions {
  /** OPS_FAILURE_RATE_WINDOW. */
  windowMs: number;
  /** OPS_EVENTS_TENANT: its endpoints are not counted (no events about operator endpoints). */
  systemTenantId: string;
  /** Endpoints tracked at most; a new one past it is not counted until others go idle. */
  maxEndpoints?: number;
  /** The window is this many buckets (its precision: a tenth of it by default). */
  buckets?: number;
  now?: () => number;
}

export const MAX_TRACKED_ENDPOINTS = 100_000;
const BUCKETS = 10;

/** Per slot of an endpoint's ring: the bucket it holds, its attempts, its failures. */
const FIELDS = 3;

interface EndpointRing {
  tenantId: string;
  /** `slots` × [bucket number, attempts, failed]: one allocation per endpoint seen. */
  counts: Float64Array;
}

/**
 * Buckets by the row's `attempted_at`, not by arrival: a backlog written late (Postgres away,
 * another writer taking over) lands in the minutes its attempts happened, rows older than the
 * window are left out, and the reading means what the old query's did. A row stamped ahead of
 * this clock (delivery's clock) counts in the current bucket. The window read is the current
 * bucket and the `buckets` before it: at least OPS_FAILURE_RATE_WINDOW, at most a bucket more.
 * A record written twice (delivered again after a lost ack) counts twice: rare, and noise in an
 * estimate.
 */
export function createAttemptWindow(options: AttemptWindowOptions): AttemptWindow {
  const buckets = options.buckets ?? BUCKETS;
  const slots = buckets + 1;
  const bucketMs = Math.max(1, Math.ceil(options.windowMs / buckets));
  const maxEndpoints = options.maxEndpoints ?? MAX_TRACKED_ENDPOINTS;
  const now = options.now ?? Date.now;
  const { systemTenantId } = options;
  const rings = new Map<string, EndpointRing>();
  let uncounted = 0;

  return {
    add(rows) {
      const current = Math.floor(now() / bucketMs);
      const oldest = current - buckets;
      for (const row of rows) {
        if (row.tenant_id === systemTenantId) continue;
        const bucket = Math.min(current, Math.floor(row.attempted_at.getTime() / bucketMs));
        if (bucket < oldest) continue;
        let ring = rings.get(row.endpoint_id);
        if (ring === undefined) {
          if (rings.size >= maxEndpoints) {
            uncounted++;
            continue;
          }
          ring = { tenantId: row.tenant_id, counts: new Float64Array(slots * FIELDS).fill(-1) };
          rings.set(row.endpoint_id, ring);
        }
        const { counts } = ring;
        const at = (bucket % slots) * FIELDS;
        // The slot holds this bucket, or one that has left the window: start it over.
        if (counts[at] !== bucket) {
          counts[at] = bucket;
          counts[at + 1] = 0;
          counts[at + 2] = 0;
        }
        counts[at + 1] = (counts[at + 1] ?? 0) + 1;
        if (row.result !== "delivered") counts[at + 2] = (counts[at + 2] ?? 0) + 1;
      }
    },
    read(at, minAttempts) {
      const current = Math.floor(at / bucketMs);
      const oldest = current - buckets;
      const endpoints: EndpointAttempts[] = [];
      for (const [endpointId, ring] of rings) {
        let attempts = 0;
        let failed = 0;
        const { counts } = ring;
        for (let slot = 0; slot < counts.length; slot += FIELDS) {
          const bucket = counts[slot] ?? -1;
          if (bucket < oldest || bucket > current) continue;
          attempts += counts[slot + 1] ?? 0;
          failed += counts[slot + 2] ?? 0;
        }
        if (attempts === 0) rings.delete(endpointId);
        else if (attempts >= minAttempts) {
          endpoints.push({ endpointId, tenantId: ring.tenantId, attempts, failed });
        }
      }
      const left = uncounted;
      uncounted = 0;
      return { endpoints, uncounted: left };
    },
    get size() {
      return rings.size;
    },
  };
}
