import { SYSTEM_TENANT_ID, tenantIdSchema } from "@hookline/contracts";
import {
  apiTokensEnv,
  booleanEnv,
  commonEnvShape,
  DLQ_SCOPES,
  durationEnv,
  numberListEnv,
  opsEventKindsEnv,
  portEnv,
} from "@hookline/kit";
import { z } from "zod";

export const dlqEnvShape = {
  ...commonEnvShape,
  PORT: portEnv.default(8083),
  DATABASE_URL: z.string().min(1),
  /** name:token[:scope+scope…][@tenant], separated by commas (kit's apiTokensEnv). */
  DLQ_API_TOKENS: apiTokensEnv(DLQ_SCOPES),
  /** The largest request body of any route; operators' calls carry a filter and a note. */
  DLQ_MAX_BODY_BYTES: z.coerce.number().int().min(1_024).default(65_536),
  DLQ_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  DLQ_RETENTION_INTERVAL: durationEnv.default(3_600_000),
  /** Replays get a new `Hookline-Deadline` this far ahead, as ingest gives fresh tasks. */
  TASK_DEADLINE: durationEnv.default(3 * 86_400_000),
  /** Key for cursor HMACs; by default derived from DLQ_API_TOKENS (see letters/cursor.ts). */
  DLQ_CURSOR_SECRET: z.string().min(16).optional(),
  /** Letters stored at once; also the consumer's prefetch. */
  DLQ_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  /** The attempt log: false and the dlq does not consume ATTEMPTS (nor keep its partitions). */
  ATTEMPT_LOG: booleanEnv.default(true),
  /** Keep each event's body once, on the attempt row of the record that first brings it. */
  ATTEMPT_LOG_BODIES: booleanEnv.default(true),
  /** Day partitions of the attempt log are dropped once their day ended this long ago. */
  ATTEMPT_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  /** Attempt records written per statement at most, and pulled at once; up to about three
   *  batches are held unacked, within the consumer's max_ack_pending (20,000). */
  ATTEMPT_LOG_BATCH: z.coerce.number().int().min(1).max(5_000).default(1_000),
  /** The operational events the dlq emits: task.dead_lettered, deadletters.threshold and
   *  endpoint.failure_rate (kit's OPS_EVENTS: all, none, or a list). */
  OPS_EVENTS: opsEventKindsEnv,
  /** The operational events' tenant: its own letters and attempts are left out of them. */
  OPS_EVENTS_TENANT: tenantIdSchema.default(SYSTEM_TENANT_ID),
  /** task.dead_lettered counts each endpoint's letters over this window: one event per window. */
  OPS_DEADLETTER_WINDOW: durationEnv.pipe(z.number().min(1_000, "at least 1s")).default(60_000),
  /** Open dead letters that raise deadletters.threshold when reached from below. */
  OPS_DEADLETTER_THRESHOLDS: numberListEnv(1, 1_000_000_000, "50,100"),
  /** Failure rates (0–1) of an endpoint over the window that raise endpoint.failure_rate:
   *  the first is a warning, later ones critical. */
  OPS_FAILURE_RATE_THRESHOLDS: numberListEnv(0.01, 1, "0.2,0.5"),
  OPS_FAILURE_RATE_WINDOW: durationEnv.default(5 * 60_000),
  /** Fewer attempts in the window say nothing (1 failure of 2 is not 50 %). */
  OPS_FAILURE_RATE_MIN_ATTEMPTS: z.coerce.number().int().min(1).default(20),
  /** How often open letters and failure rates are read. */
  OPS_CHECK_INTERVAL: durationEnv.default(30_000),
};
