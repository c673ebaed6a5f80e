import type { Kysely, Migration } from "kysely";

/**
 * The event view (GET /v1/events/{eventId}) reads an event's dead letters, including those of
 * tasks that never made an attempt (backlog_full); without this it would scan every letter.
 */
export const indexDeadLettersByEvent: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex("dead_letters_event_idx")
      .on("dead_letters")
      .columns(["event_id", "tenant_id"])
      .execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex("dead_letters_event_idx").execute();
  },
};
