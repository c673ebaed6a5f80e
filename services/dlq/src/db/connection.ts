import type { Logger } from "@hookline/kit";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Database } from "./schema";

/** One `copy … from stdin` statement and the data it reads. */
export interface CopyIn {
  statement: string;
  data: Uint8Array;
}

export interface DatabaseLink {
  db: Kysely<Database>;
  /** True when `select 1` answers within the timeout: readiness follows it. */
  answers(timeoutMs?: number): Promise<boolean>;
  /**
   * Runs the COPY statements in one transaction on one pooled connection. Like a query, it
   * fails after the query timeout: the connection is then dropped.
   */
  copyIn(copies: readonly CopyIn[]): Promise<void>;
  /** Ends every pooled connection. */
  destroy(): Promise<void>;
}

const DEFAULT_CHECK_TIMEOUT_MS = 1_000;
const QUERY_TIMEOUT_MS = 15_000;

/**
 * A Kysely instance over a pg pool. Connecting and querying have timeouts, so an unreachable
 * database fails fast (the store naks, the API answers 503) instead of hanging.
 */
export function connectDatabase(options: {
  url: string;
  poolSize: number;
  logger: Logger;
}): DatabaseLink {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: 3_000,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits here; without a listener the process dies.
  pool.on("error", (error) => options.logger.warn({ err: error }, "idle database client failed"));
  // A client emits its connection's end too while checked out (Kysely's query, a COPY), when
  // the pool does not listen (node-postgres#3083): unheard, that ends the process. The query
  // in flight fails with the same error and its caller reports it; the pool drops the client.
  pool.on("connect", (client) => {
    client.on("error", (error) =>
      options.logger.debug({ err: error }, "database connection ended"),
    );
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  return {
    db,
    async answers(timeoutMs = DEFAULT_CHECK_TIMEOUT_MS) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      const check = sql`select 1`
        .execute(db)
        .then(() => true)
        .catch(() => false);
      try {
        return await Promise.race([check, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    copyIn: (copies) => copyInTransaction(pool, copies),
    destroy: () => db.destroy(),
  };
}

async function copyInTransaction(pool: pg.Pool, copies: readonly CopyIn[]): Promise<void> {
  const client = await pool.connect();
  let timer: NodeJS.Timeout | undefined;
  // pg's query_timeout does not cover a COPY: a server that stops answering would hold it.
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Query read timeout: COPY unfinished after ${QUERY_TIMEOUT_MS} ms`)),
      QUERY_TIMEOUT_MS,
    );
  });
  let failure: Error | undefined;
  try {
    const copied = copyAll(client, copies);
    // Settled either way: after a timeout its own failure comes later and is not news.
    copied.catch(() => {});
    await Promise.race([copied, timedOut]);
  } catch (error) {
    // A COPY the server refused (a duplicate key) leaves the connection usable once rolled back.
    const refused = error instanceof pg.DatabaseError && error.severity === "ERROR";
    if (!refused || !(await rolledBack(client))) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    throw error;
  } finally {
    clearTimeout(timer);
    // After another failure the connection may be mid-COPY or mid-transaction: drop it.
    client.release(failure);
  }
}

async function rolledBack(client: pg.PoolClient): Promise<boolean> {
  try {
    await client.query("rollback");
    return true;
  } catch {
    return false;
  }
}

async function copyAll(client: pg.PoolClient, copies: readonly CopyIn[]): Promise<void> {
  await client.query("begin");
  for (const copy of copies) {
    await new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom(copy.statement));
      stream.on("finish", resolve);
      stream.on("error", reject);
      stream.end(copy.data);
    });
  }
  await client.query("commit");
}
