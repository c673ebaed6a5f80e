import { createHash } from "node:crypto";
import pg from "pg";

/**
 * The attempt log's writer lock: a Postgres session advisory lock, held by one dlq instance of
 * a deployment at a time on a connection of its own (a pooled one would hand the session to
 * other queries, and the lock with it). Postgres releases it when that session ends: the
 * instance stopped, crashed, or lost its connection.
 */
export interface WriterLock {
  /**
   * Resolves once the lock may no longer be ours: its connection ended, or stopped answering
   * (then it is closed, so that Postgres lets the lock go as soon as it sees that).
   */
  readonly lost: Promise<void>;
  /** Closes the connection, which releases the lock. */
  release(): Promise<void>;
}

export type LockAttempt =
  | { outcome: "taken"; lock: WriterLock }
  | { outcome: "held_elsewhere" }
  | { outcome: "unavailable"; error: unknown };

export interface WriterLockOptions {
  url: string;
  /** attemptLogLockKey(prefix). */
  key: string;
  /** The connection is checked this often while the lock is held. */
  checkIntervalMs?: number;
  /** A check (or taking the lock) that takes longer than this counts as a lost connection. */
  queryTimeoutMs?: number;
}

const DEFAULT_CHECK_INTERVAL_MS = 5_000;
const DEFAULT_QUERY_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 3_000;
/** A goodbye the server does not answer (it is gone or frozen) is not waited for longer. */
const RELEASE_TIMEOUT_MS = 1_000;
/**
 * Postgres drops the session of a peer that stopped answering after idle + interval × count
 * seconds, releasing the lock; the default is the OS's (two hours on Linux).
 */
const SERVER_KEEPALIVES =
  "set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 3";

/**
 * The lock's key (int8, as text): one per HOOKLINE_PREFIX, since each prefix has its own
 * ATTEMPTS stream and durable, and deployments may share a database.
 */
export function attemptLogLockKey(prefix: string): string {
  const digest = createHash("sha256").update(`hookline attempt log writer ${prefix}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Takes the lock if no other session holds it; never waits for it. */
export async function tryTakeWriterLock(options: WriterLockOptions): Promise<LockAttempt> {
  const checkIntervalMs = options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: "hookline-dlq attempt log writer",
  });
  let onLost: (() => void) | undefined;
  const lost = new Promise<void>((resolve) => {
    onLost = resolve;
  });
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const destroy = () => client.connection.stream.destroy();
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    destroy();
    onLost?.();
  };
  // Without a listener a connection error would end the process.
  client.on("error", end);
  client.on("end", end);

  try {
    await client.connect();
    await client.query(SERVER_KEEPALIVES);
    const { rows } = await client.query<{ taken: boolean }>(
      "select pg_try_advisory_lock($1::int8) as taken",
      [options.key],
    );
    if (rows[0]?.taken !== true) {
      await closeGently(client, end);
      return { outcome: "held_elsewhere" };
    }
  } catch (error) {
    end();
    return { outcome: "unavailable", error };
  }

  const check = () => {
    timer = setTimeout(() => {
      client.query("select 1").then(() => {
        if (!ended) check();
      }, end);
    }, checkIntervalMs);
  };
  check();
  return {
    outcome: "taken",
    lock: {
      lost,
      async release() {
        if (ended) return;
        clearTimeout(timer);
        await closeGently(client, end);
      },
    },
  };
}

/** Says goodbye, or closes the socket if the server does not answer soon. */
async function closeGently(client: pg.Client, end: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, RELEASE_TIMEOUT_MS);
  });
  await Promise.race([client.end().catch(() => undefined), late]);
  clearTimeout(timer);
  end();
}
