import { createLogger } from "@hookline/kit";
import { type PostgresHandle, pollUntil, startPostgres } from "@hookline/testkit";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDatabase, type DatabaseLink } from "./connection";

let postgres: PostgresHandle;
let link: DatabaseLink;
beforeAll(async () => {
  postgres = await startPostgres();
  // One connection: what copyIn does with it shows in the backend that answers next.
  link = connectDatabase({
    url: postgres.url,
    poolSize: 1,
    logger: createLogger({ service: "dlq", level: "silent", pretty: false }),
  });
  await sql`create table copied (id int primary key, note text)`.execute(link.db);
});
afterAll(async () => {
  await link?.destroy();
  await postgres?.stop();
});

const backend = async () =>
  (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(link.db)).rows[0]?.pid;
const rows = async () =>
  (await sql<{ id: number; note: string }>`select * from copied order by id`.execute(link.db)).rows;
const copyOf = (lines: string[]) => ({
  statement: "copy copied (id, note) from stdin",
  data: Buffer.from(lines.map((line) => `${line}\n`).join("")),
});

describe("copyIn", () => {
  it("runs every COPY in one transaction: all rows, or none when one is refused", async () => {
    await link.copyIn([copyOf(["1\tone", "2\ttwo"]), copyOf(["3\tthree"])]);
    expect(await rows()).toEqual([
      { id: 1, note: "one" },
      { id: 2, note: "two" },
      { id: 3, note: "three" },
    ]);

    // The second COPY repeats a key: the first one's row goes too.
    await expect(link.copyIn([copyOf(["4\tfour"]), copyOf(["2\tagain"])])).rejects.toMatchObject({
      code: "23505",
    });
    expect((await rows()).map((row) => row.id)).toEqual([1, 2, 3]);
  });

  it("keeps the connection after a COPY the server refused: it is rolled back and reused", async () => {
    const before = await backend();
    await expect(link.copyIn([copyOf(["1\tduplicate"])])).rejects.toMatchObject({
      code: "23505",
    });
    expect(await backend()).toBe(before);

    // Data the server cannot read as COPY text is refused the same way.
    await expect(
      link.copyIn([copyOf(["5\tfive"]), copyOf(["not a number\tx"])]),
    ).rejects.toMatchObject({ code: "22P02" });
    expect(await backend()).toBe(before);
    expect((await rows()).map((row) => row.id)).toEqual([1, 2, 3]);
  });
});

describe("a connection that ends while checked out", () => {
  it("fails the transaction using it, and the pool goes on with a new connection", async () => {
    let inTransaction: number | undefined;
    let ended: () => void = () => {};
    const terminated = new Promise<void>((resolve) => {
      ended = resolve;
    });
    // Settled at once: its failure comes while the test still waits on other things.
    const outcome = link.db
      .transaction()
      .execute(async (trx) => {
        inTransaction = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx))
          .rows[0]?.pid;
        // Between queries: the server's goodbye reaches the client with no query to fail.
        await terminated;
        await sql`select 1`.execute(trx);
      })
      .then(
        () => "committed",
        (error: Error) => error.message,
      );
    await pollUntil(async () => inTransaction !== undefined, {
      timeoutMs: 5_000,
      what: "the transaction",
    });

    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query("select pg_terminate_backend($1)", [inTransaction]);
      await pollUntil(
        async () => {
          const { rows } = await admin.query("select 1 from pg_stat_activity where pid = $1", [
            inTransaction,
          ]);
          return rows.length === 0;
        },
        { timeoutMs: 5_000, what: "the backend to end" },
      );
    } finally {
      await admin.end();
    }
    // Without a listener on the checked-out client, its "error" event has ended the process.
    ended();
    expect(await outcome).toMatch(/terminat|not queryable/i);
    const after = await backend();
    expect(after).toBeDefined();
    expect(after).not.toBe(inTransaction);
  });
});
