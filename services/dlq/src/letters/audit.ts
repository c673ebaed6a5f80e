import type { Kysely, Transaction } from "kysely";
import type { AuditAction, AuditRow, Database } from "../db/schema";
import { isDeadLetterId } from "./letter-id";

/** Who the store acts as in the audit trail; operators appear by their token name. */
export const STORE_ACTOR = "dlq-store";

export interface AuditEntry {
  deadLetterId: string;
  action: AuditAction;
  actor: string;
  note?: string | null | undefined;
  at: Date;
  details?: Record<string, unknown> | undefined;
}

/** Records entries in the caller's transaction, so an action and its audit commit together. */
export async function recordAudit(
  trx: Transaction<Database> | Kysely<Database>,
  entries: readonly AuditEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await trx
    .insertInto("dead_letter_audit")
    .values(
      entries.map((entry) => ({
        dead_letter_id: entry.deadLetterId,
        action: entry.action,
        actor: entry.actor,
        note: entry.note ?? null,
        at: entry.at,
        details: JSON.stringify(entry.details ?? {}),
      })),
    )
    .execute();
}

export type AuditTrail = { outcome: "found"; entries: AuditRow[] } | { outcome: "not_found" };

/** A letter's audit trail, oldest first. */
export async function auditTrail(db: Kysely<Database>, id: string): Promise<AuditTrail> {
  if (!isDeadLetterId(id)) return { outcome: "not_found" };
  const [letter, entries] = await Promise.all([
    db.selectFrom("dead_letters").select("id").where("id", "=", id).executeTakeFirst(),
    db
      .selectFrom("dead_letter_audit")
      .selectAll()
      .where("dead_letter_id", "=", id)
      .orderBy("id", "asc")
      .execute(),
  ]);
  if (letter === undefined) return { outcome: "not_found" };
  return { outcome: "found", entries };
}
