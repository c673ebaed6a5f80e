import { DEFAULT_RETRY_TIERS, SYSTEM_TENANT_ID, tenantIdSchema } from "@hookline/contracts";
import {
  apiTokensEnv,
  commonEnvShape,
  durationEnv,
  durationListEnv,
  endpointPortEnvShape,
  INGEST_SCOPES,
  opsEventKindsEnv,
  portEnv,
  secretEncryptionEnvShape,
} from "@hookline/kit";
import { z } from "zod";

export const ingestEnvShape = {
  ...commonEnvShape,
  ...endpointPortEnvShape,
  PORT: portEnv.default(8080),
  /** name:token[:scope+scope…][@tenant], separated by commas (kit's apiTokensEnv). */
  INGEST_API_TOKENS: apiTokensEnv(INGEST_SCOPES),
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1_024).default(262_144),
  INGEST_MAX_BATCH_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(5 * 1024 * 1024),
  /** How long after acceptance a task may still be retried (`Hookline-Deadline`). */
  TASK_DEADLINE: durationEnv.default(3 * 86_400_000),
  /**
   * How long the operators' routes (system health, breakers) wait for service instances to
   * answer discovery over NATS, and then each instance to answer.
   */
  INGEST_CONTROL_TIMEOUT: durationEnv.pipe(z.number().min(10, "at least 10ms")).default(2_000),
  /** The classifier's RETRY_TIERS, same default: no retryPolicy delay may exceed the longest. */
  RETRY_TIERS: durationListEnv.prefault(DEFAULT_RETRY_TIERS),
  /** The operational events ingest emits: endpoint.disabled and .enabled (kit's OPS_EVENTS). */
  OPS_EVENTS: opsEventKindsEnv,
  /** The tenant operational events belong to; created at start when missing. */
  OPS_EVENTS_TENANT: tenantIdSchema.default(SYSTEM_TENANT_ID),
  /** Where operators reach ingest's and the dlq's APIs: the base of operational events' links. */
  OPS_LINK_INGEST_URL: z.url().default("http://localhost:8080"),
  OPS_LINK_DLQ_URL: z.url().default("http://localhost:8083"),
  /** Ingest seals signing secrets and header values with the first key; checked by main.ts. */
  ...secretEncryptionEnvShape,
};
