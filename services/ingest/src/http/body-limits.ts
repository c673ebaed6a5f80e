import type { BodyLimit, BodyLimitRule } from "@hookline/kit";

export const BATCH_PATH = "/v1/events/batch";
export const TENANTS_PREFIX = "/v1/tenants/";
const BATCH_SUFFIX = "/events/batch";

/** /v1/events/batch, or /v1/tenants/{tenantId}/events/batch (one path segment for the id). */
export function isBatchPath(path: string): boolean {
  if (path === BATCH_PATH) return true;
  if (!path.startsWith(TENANTS_PREFIX) || !path.endsWith(BATCH_SUFFIX)) return false;
  const slash = path.indexOf("/", TENANTS_PREFIX.length);
  return slash > TENANTS_PREFIX.length && slash === path.length - BATCH_SUFFIX.length;
}

export interface IngestBodyLimits {
  maxBodyBytes: number;
  maxBatchBytes: number;
}

/** INGEST_MAX_BATCH_BYTES for batches (either path), INGEST_MAX_BODY_BYTES for every other route. */
export function ingestBodyLimit(limits: IngestBodyLimits): BodyLimitRule {
  const single: BodyLimit = { maxBytes: limits.maxBodyBytes, setting: "INGEST_MAX_BODY_BYTES" };
  const batch: BodyLimit = { maxBytes: limits.maxBatchBytes, setting: "INGEST_MAX_BATCH_BYTES" };
  return (path) => (isBatchPath(path) ? batch : single);
}
