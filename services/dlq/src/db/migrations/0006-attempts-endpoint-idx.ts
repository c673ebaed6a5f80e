import { type Kysely, type Migration, sql } from "kysely";

/**
 * An endpoint's attempts, newest first, by (endpoint, time) alone: the attempt id that 0003's
 * index also held (some 60 bytes a row, to break ties within a millisecond) made it the widest
 * index and a tenth of what a logged row cost Postgres. A page still reads in key order: the
 * few rows of one millisecond are sorted on the way (an incremental sort).
 */
export const narrowEndpointIndex: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`drop index attempts_endpoint_page_idx`.execute(db);
    await sql`create index attempts_endpoint_idx on attempts (endpoint_id, attempted_at desc)`.execute(
      db,
    );
  },

  async down(db: Kysely<unknown>) {
    await sql`drop index attempts_endpoint_idx`.execute(db);
    await sql`
      create index attempts_endpoint_page_idx
        on attempts (endpoint_id, attempted_at desc, attempt_id desc)
    `.execute(db);
  },
};
