import { type Kysely, type Migration, sql } from "kysely";

/**
 * Every letter names its tenant. Rows stored before tenants belong to the default one: the
 * column default fills them (a constant default, so Postgres adds it without rewriting rows).
 */
export const addTenantId: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("dead_letters")
      .addColumn("tenant_id", "text", (col) => col.notNull().defaultTo(sql`'default'`))
      .execute();
    // Listing by tenant pages in the same order as every other filter (see 0001).
    await db.schema
      .createIndex("dead_letters_tenant_id_page_idx")
      .on("dead_letters")
      .columns(["tenant_id", "dead_at desc", "id desc"])
      .execute();
  },

  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex("dead_letters_tenant_id_page_idx").execute();
    await db.schema.alterTable("dead_letters").dropColumn("tenant_id").execute();
  },
};
