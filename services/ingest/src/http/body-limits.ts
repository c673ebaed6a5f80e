import type { BodyLimit, BodyLimitRule } from "@hookline/kit";

export const BATCH_PATH = "/v1/events/batch";

export interface IngestBodyLimits {
  maxBodyBytes: number;
  maxBatchBytes: number;
}

/** INGEST_MAX_BATCH_BYTES for batches, INGEST_MAX_BODY_BYTES for every other route. */
export function ingestBodyLimit(limits: IngestBodyLimits): BodyLimitRule {
  const single: BodyLimit = { maxBytes: limits.maxBodyBytes, setting: "INGEST_MAX_BODY_BYTES" };
  const batch: BodyLimit = { maxBytes: limits.maxBatchBytes, setting: "INGEST_MAX_BATCH_BYTES" };
  return (path) => (path === BATCH_PATH ? batch : single);
}
