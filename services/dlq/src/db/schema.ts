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

export interface Database {
  dead_letters: DeadLettersTable;
  dead_letter_audit: DeadLetterAuditTable;
}

export type DeadLetterRow = Selectable<DeadLettersTable>;
export type NewDeadLetterRow = Insertable<DeadLettersTable>;
export type AuditRow = Selectable<DeadLetterAuditTable>;
export type NewAuditRow = Insertable<DeadLetterAuditTable>;
