import type { DeadLetterReason } from "@hookline/contracts";
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

export const deadLetterStatuses = ["open", "replayed", "resolved", "discarded"] as const;
export type DeadLetterStatus = (typeof deadLetterStatuses)[number];

/** One attempt as kept in the `attempts` column: the `Hookline-History` record, unchanged. */
export interface StoredAttempt {
  n: number;
  at: number;
  result: string;
  status?: number | undefined;
  error?: string | undefined;
  ms: number;
}

/** jsonb columns are written as JSON text: pg would turn a JS array into a Postgres array. */
type Json<T> = ColumnType<T, string, string>;

export interface DeadLettersTable {
  /** `dl_` + 26 Crockford base32 characters (time, then randomness), see letter-id.ts. */
  id: string;
  task_id: string;
  /** Null only for invalid messages whose headers did not carry a valid value. */
  event_id: string | null;
  event_type: string | null;
  endpoint_id: string | null;
  /** `Hookline-Tenant-Id`; 'default' for letters without one (or with an invalid one). */
  tenant_id: ColumnType<string, string | undefined, string>;
  /** From the endpoint cache when the letter was stored. */
  endpoint_url: string | null;
  reason: DeadLetterReason;
  status: ColumnType<DeadLetterStatus, DeadLetterStatus | undefined, DeadLetterStatus>;
  /** `Hookline-Attempt` of the latest death: attempts made since the task (or its replay) began. */
  attempt_count: number;
  last_status: number | null;
  last_error: string | null;
  /** When ingest accepted the event. */
  created_at: Date;
  /** When the letter reached the dead-letter stream (the JetStream timestamp). */
  dead_at: Date;
  replay_count: Generated<number>;
  resolved_at: Date | null;
  resolved_by: string | null;
  note: string | null;
  body: Buffer;
  headers: Json<Record<string, string>>;
  /** Every attempt seen across deaths, deduplicated by `n` and `at`, oldest first. */
  attempts: Json<StoredAttempt[]>;
  updated_at: Date;
}

export const auditActions = ["stored", "died_again", "replayed", "resolved", "discarded"] as const;
export type AuditAction = (typeof auditActions)[number];

export interface DeadLetterAuditTable {
  /** bigserial: pg returns int8 as a string. */
  id: ColumnType<string, never, never>;
  dead_letter_id: string;
  action: AuditAction;
  actor: string;
  note: string | null;
  at: Date;
  details: Json<Record<string, unknown>>;
}

/** One attempt (or one pass that made none: endpoint missing or disabled), see 0003. */
export interface AttemptsTable {
  attempted_at: Date;
  /** The record's Nats-Msg-Id: `<taskId>#<pass>@<dispatchSeq>`. */
  attempt_id: string;
  tenant_id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  task_id: string;
  /** `Hookline-Attempt` after this pass: 1 for a task's (or a replay's) first attempt. */
  attempt: number;
  result: string;
  status: number | null;
  error: string | null;
  response_body: string | null;
  duration_ms: number;
  replay_of: string | null;
  /** Null on successes; the classifier's `retry`, `deadletter` or `ignore` on failures. */
  decision: string | null;
  /** When the retry will be sent (decision `retry`). */
  next_attempt_at: Date | null;
  /** Why the task died (decision `deadletter`). */
  reason: string | null;
  event_created_at: Date;
  logged_at: ColumnType<Date, Date | undefined, never>;
  /**
   * The event's body, on the one row of the event that brought it first (see 0005); null on
   * the others, and on every row when ATTEMPT_LOG_BODIES is off.
   */
  body: ColumnType<Buffer | null, Uint8Array | null | undefined, never>;
}

/**
 * Each event's body once (per tenant), as the log wrote them before 0005 (now in `attempts`):
 * read, never written, until retention has dropped every partition.
 */
export interface EventBodiesTable {
  tenant_id: string;
  event_id: string;
  created_at: Date;
  event_type: string;
  body: Buffer;
}

export interface Database {
  dead_letters: DeadLettersTable;
  dead_letter_audit: DeadLetterAuditTable;
  attempts: AttemptsTable;
  event_bodies: EventBodiesTable;
}

export type DeadLetterRow = Selectable<DeadLettersTable>;
export type NewDeadLetterRow = Insertable<DeadLettersTable>;
export type AuditRow = Selectable<DeadLetterAuditTable>;
export type NewAuditRow = Insertable<DeadLetterAuditTable>;
/** An attempt as listings read it: every column but the event's body (see event-view.ts). */
export type AttemptRow = Omit<Selectable<AttemptsTable>, "body">;
/** Each column of AttemptRow, once: a record, so that the compiler finds one left out. */
const attemptRowColumnSet: Record<keyof AttemptRow, true> = {
  attempted_at: true,
  attempt_id: true,
  tenant_id: true,
  event_id: true,
  event_type: true,
  endpoint_id: true,
  task_id: true,
  attempt: true,
  result: true,
  status: true,
  error: true,
  response_body: true,
  duration_ms: true,
  replay_of: true,
  decision: true,
  next_attempt_at: true,
  reason: true,
  event_created_at: true,
  logged_at: true,
};
/** The columns of AttemptRow, for selects. */
export const attemptRowColumns = Object.keys(attemptRowColumnSet) as (keyof AttemptRow)[];
export type NewAttemptRow = Insertable<AttemptsTable>;
export type EventBodyRow = Selectable<EventBodiesTable>;
