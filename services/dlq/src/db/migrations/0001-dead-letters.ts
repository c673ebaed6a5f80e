import { type Kysely, type Migration, sql } from "kysely";

/** Millisecond precision: cursors carry JS dates, so stored times must compare equal to them. */
const timestampMs = sql`timestamptz(3)`;
/** Every list filter pages in this order, so each gets a composite index ending with it. */
const pageOrder = ["dead_at desc", "id desc"];

export const createDeadLetters: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("dead_letters")
      .addColumn("id", "text", (col) => col.primaryKey())
      .addColumn("task_id", "text", (col) => col.notNull().unique())
      .addColumn("event_id", "text")
      .addColumn("event_type", "text")
      .addColumn("endpoint_id", "text")
      .addColumn("endpoint_url", "text")
      // No check on reason: contracts may add reasons without a migration here.
      .addColumn("reason", "text", (col) => col.notNull())
      .addColumn("status", "text", (col) =>
        col
          .notNull()
          .defaultTo("open")
          .check(sql`status in ('open', 'replayed', 'resolved', 'discarded')`),
      )
      .addColumn("attempt_count", "integer", (col) => col.notNull().defaultTo(0))
      .addColumn("last_status", "integer")
      .addColumn("last_error", "text")
      .addColumn("created_at", timestampMs, (col) => col.notNull())
      .addColumn("dead_at", timestampMs, (col) => col.notNull())
      .addColumn("replay_count", "integer", (col) => col.notNull().defaultTo(0))
      .addColumn("resolved_at", timestampMs)
      .addColumn("resolved_by", "text")
      .addColumn("note", "text")
      .addColumn("body", "bytea", (col) => col.notNull())
      .addColumn("headers", "jsonb", (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
      .addColumn("attempts", "jsonb", (col) => col.notNull().defaultTo(sql`'[]'::jsonb`))
      .addColumn("updated_at", timestampMs, (col) => col.notNull())
      .execute();

    await db.schema
      .createIndex("dead_letters_page_idx")
      .on("dead_letters")
      .columns(pageOrder)
      .execute();
    for (const column of ["status", "reason", "endpoint_id", "event_type"]) {
      await db.schema
        .createIndex(`dead_letters_${column}_page_idx`)
        .on("dead_letters")
        .columns([column, ...pageOrder])
        .execute();
    }
    // Retention scans only the rows it may purge.
    await db.schema
      .createIndex("dead_letters_retention_idx")
      .on("dead_letters")
      .column("resolved_at")
      .where(sql.ref("status"), "in", ["resolved", "discarded"])
      .execute();

    await db.schema
      .createTable("dead_letter_audit")
      .addColumn("id", "bigserial", (col) => col.primaryKey())
      .addColumn("dead_letter_id", "text", (col) =>
        col.notNull().references("dead_letters.id").onDelete("cascade"),
      )
      .addColumn("action", "text", (col) => col.notNull())
      .addColumn("actor", "text", (col) => col.notNull())
      .addColumn("note", "text")
      .addColumn("at", timestampMs, (col) => col.notNull())
      .addColumn("details", "jsonb", (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
      .execute();
    await db.schema
      .createIndex("dead_letter_audit_letter_idx")
      .on("dead_letter_audit")
      .columns(["dead_letter_id", "id"])
      .execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.dropTable("dead_letter_audit").execute();
    await db.schema.dropTable("dead_letters").execute();
  },
};
