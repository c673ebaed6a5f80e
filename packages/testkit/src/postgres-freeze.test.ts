import { Client } from "pg";
import { describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./postgres-embedded";

describe("embedded Postgres freeze()", () => {
  it("stops the server and its backends until thaw(), keeping connections", {
    timeout: 120_000,
  }, async () => {
    const pg = await startEmbeddedPostgres();
    const client = new Client({ connectionString: pg.url });
    try {
      await client.connect();
      expect(pg.pid).toBeGreaterThan(0);
      const stopped = await pg.freeze();
      // The postmaster and its backends (ours among them, plus the background workers).
      expect(stopped[0]).toBe(pg.pid);
      expect(stopped.length).toBeGreaterThan(2);

      const query = client.query("select 1 as one");
      const early = await Promise.race([
        query.then(() => "answered"),
        new Promise((r) => setTimeout(() => r("hung"), 500)),
      ]);
      expect(early).toBe("hung");

      await pg.thaw();
      expect((await query).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end().catch(() => undefined);
      await pg.stop();
    }
  });
});
