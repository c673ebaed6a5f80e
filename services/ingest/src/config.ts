import {
  commonEnvShape,
  durationEnv,
  endpointPortEnvShape,
  portEnv,
  secretEncryptionEnvShape,
  tokenPairsEnv,
} from "@hookline/kit";
import { z } from "zod";

export const ingestEnvShape = {
  ...commonEnvShape,
  ...endpointPortEnvShape,
  PORT: portEnv.default(8080),
  INGEST_API_TOKENS: tokenPairsEnv,
  INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1_024).default(262_144),
  INGEST_MAX_BATCH_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(5 * 1024 * 1024),
  /** How long after acceptance a task may still be retried (`Hookline-Deadline`). */
  TASK_DEADLINE: durationEnv.default(3 * 86_400_000),
  /** Ingest seals signing secrets and header values with the first key; checked by main.ts. */
  ...secretEncryptionEnvShape,
};
