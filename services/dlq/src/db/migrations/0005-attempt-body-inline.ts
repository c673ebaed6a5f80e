import { type Kysely, type Migration, sql } from "kysely";

/**
 * An event's body moves into the row of the attempt that first brought it (the first attempt
 * of one of its tasks): one tuple and one index entry per event fewer than a row in
 * `event_bodies`, which was a third of what the log cost Postgres. Adding a nullable column
 * without a default changes only the catalogue, on every partition at once. `event_bodies`
 * stays, read-only: bodies stored before this are read from it until retention drops its
 * partitions (a later migration can drop the empty table).
 */
export const moveBodiesIntoAttempts: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`alter table attempts add column body bytea`.execute(db);
  },

  async down(db: Kysely<unknown>) {
    await sql`alter table attempts drop column body`.execute(db);
  },
};
