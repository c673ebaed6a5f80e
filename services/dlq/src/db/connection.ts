import type { Logger } from "@hookline/kit";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "./schema";

export interface DatabaseLink {
  db: Kysely<Database>;
  /** True when `select 1` answers within the timeout: readiness follows it. */
  answers(timeoutMs?: number): Promise<boolean>;
  /** Ends every pooled connection. */
  destroy(): Promise<void>;
}

const DEFAULT_CHECK_TIMEOUT_MS = 1_000;

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
    query_timeout: 15_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits here; without a listener the process dies.
  pool.on("error", (error) => options.logger.warn({ err: error }, "idle database client failed"));
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
    destroy: () => db.destroy(),
  };
}
