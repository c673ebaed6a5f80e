import { DEFAULT_RETRY_TIERS } from "@hookline/contracts";
import {
  apiTokensEnv,
  commonEnvShape,
  durationEnv,
  durationListEnv,
  endpointPortEnvShape,
  INGEST_SCOPES,
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
  /** The classifier's RETRY_TIERS, same default: no retryPolicy delay may exceed the longest. */
  RETRY_TIERS: durationListEnv.prefault(DEFAULT_RETRY_TIERS),
  /** Ingest seals signing secrets and header values with the first key; checked by main.ts. */
  ...secretEncryptionEnvShape,
};
