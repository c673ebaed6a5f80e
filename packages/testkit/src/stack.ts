import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ENCRYPTION_ENV_NAMES, encryptionEnvFor } from "./encryption-keys";
import { freePort } from "./free-port";
import { LineBuffer } from "./line-buffer";
import { describeExit, type Exit, ManagedProcess } from "./managed-process";
import { repoRoot } from "./repo-root";
import { answersOk, pollUntil } from "./wait";

/**
 * How the services run: "source" is `node --import tsx services/<name>/src/main.ts`, "built" is
 * `node --enable-source-maps services/<name>/dist/main.js`, what `pnpm build` makes and production
 * runs.
 */
export type StackRuntime = "source" | "built";

export interface StartStackOptions {
  natsUrl: string;
  /** Folder names under services/, e.g. ["ingest", "delivery"]. */
  services: string[];
  /** Extra env for every service; wins over the defaults below. */
  env?: Record<string, string>;
  /**
   * Extra env per service name; wins over `env`. Setting PORT here fixes that service's port.
   * Per-service NATS credentials go here too (NATS_USER and NATS_PASSWORD, NATS_INBOX_PREFIX, …):
   * none is inherited from the test's own environment.
   */
  serviceEnv?: Record<string, Record<string, string>>;
  /** HOOKLINE_PREFIX; default "hookline". Give each test its own to share one nats-server. */
  prefix?: string;
  /** Source (tsx, the default) or the built bundles (`pnpm build` first). */
  runtime?: StackRuntime;
  /** The script to run for a service, relative to the repo root or absolute. Default
   *  `services/<name>/src/main.ts`, or `services/<name>/dist/main.js` when runtime is "built". */
  entry?: (name: string) => string;
  /** Receives each output line, e.g. for the dev runner's pretty logs. */
  onLog?: (service: string, line: string) => void;
  /** How long each service gets to answer GET /readyz 200; default 30 s. */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL; default 10 s. */
  stopTimeoutMs?: number;
  /**
   * Processes per service; default 1. Extra ones are named `<name>-2`, `<name>-3`, … and run the
   * same entry with `serviceEnv[<name>]`, then `serviceEnv[<name>-2]`, and a port of their own.
   */
  instances?: Partial<Record<string, number>>;
}

export interface Stack {
  /** `http://127.0.0.1:<port>` */
  url(service: string): string;
  port(service: string): number;
  /** The service's last ~2000 output lines, across restarts. */
  logs(service: string): string[];
  /** The service's current process id. */
  pid(service: string): number;
  /** Stops every service (SIGTERM, then SIGKILL after the stop timeout). */
  stop(): Promise<void>;
  /** Stops one service and starts it again with the same env and port, until ready. */
  restart(service: string): Promise<void>;
  /** Every process name: the services, and `<name>-<n>` for extra instances. */
  names(): string[];
  /** True while the service's current process runs. */
  running(service: string): boolean;
  /** SIGKILL (a crash: no shutdown code runs); resolves once it has exited. */
  kill(service: string): Promise<Exit>;
  /**
   * SIGTERM, and waits for the exit without a SIGKILL unless `graceMs` passes (default: the
   * stop timeout); resolves with how it ended.
   */
  terminate(service: string, graceMs?: number): Promise<Exit>;
  /**
   * Starts a service that was killed or terminated again, same port, until ready; `env` changes
   * its environment from then on (a value of undefined removes a variable).
   */
  start(service: string, env?: Record<string, string | undefined>): Promise<void>;
}

interface Service {
  name: string;
  port: number;
  /** PORT came from the options; never moved to another port. */
  portFixed: boolean;
  /** The current launch logged EADDRINUSE: its free port was taken before it bound. */
  addrInUse: boolean;
  env: NodeJS.ProcessEnv;
  entry: string;
  logs: LineBuffer;
  proc: ManagedProcess | undefined;
}

// Infrastructure locations and credentials come only from the options: an inherited value would
// point a test's services at the developer's own servers, or log them in as someone else.
const NOT_INHERITED = [
  "NATS_URL",
  "DATABASE_URL",
  "PORT",
  "NATS_CREDS",
  "NATS_NKEY_SEED",
  "NATS_USER",
  "NATS_PASSWORD",
  "NATS_TOKEN",
  "NATS_TLS_CA",
  "NATS_TLS_CERT",
  "NATS_TLS_KEY",
  "NATS_INBOX_PREFIX",
  ...ENCRYPTION_ENV_NAMES,
];

/**
 * Starts Hookline services as child processes (`node --import tsx services/<name>/src/main.ts`,
 * or the built `dist/main.js` with runtime "built") and waits until each answers GET /readyz
 * with 200. If any fails, all are stopped again.
 */
export async function startStack(opts: StartStackOptions): Promise<Stack> {
  const root = repoRoot();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const mirror = process.env.HOOKLINE_TEST_LOGS === "1";
  const built = opts.runtime === "built";
  const entryOf =
    opts.entry ??
    ((name: string) =>
      built ? join("services", name, "dist", "main.js") : join("services", name, "src", "main.ts"));
  const nodeArgs = built ? ["--enable-source-maps"] : ["--import", "tsx"];

  const inherited: NodeJS.ProcessEnv = { ...process.env };
  for (const key of NOT_INHERITED) delete inherited[key];

  const services = new Map<string, Service>();
  for (const base of opts.services) {
    if (services.has(base)) throw new Error(`startStack: service "${base}" listed twice`);
    const count = opts.instances?.[base] ?? 1;
    for (let n = 1; n <= count; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      if (services.has(name)) throw new Error(`startStack: service "${name}" listed twice`);
      const own = n === 1 ? undefined : opts.serviceEnv?.[name];
      const env: NodeJS.ProcessEnv = {
        ...inherited,
        NATS_URL: opts.natsUrl,
        HOOKLINE_PREFIX: opts.prefix ?? "hookline",
        PORT: `${await freePort()}`,
        LOG_LEVEL: "info",
        ...encryptionEnvFor(base),
        ...opts.env,
        ...opts.serviceEnv?.[base],
        ...own,
      };
      const portFixed =
        opts.env?.PORT !== undefined ||
        opts.serviceEnv?.[base]?.PORT !== undefined ||
        own?.PORT !== undefined;
      // Two instances cannot share a fixed port: give each extra one a port of its own.
      if (n > 1 && portFixed && own?.PORT === undefined) {
        throw new Error(`startStack: ${name} needs its own PORT in serviceEnv["${name}"]`);
      }
      const given = entryOf(base);
      const entry = isAbsolute(given) ? given : resolve(root, given);
      if (built && !existsSync(entry)) {
        throw new Error(`startStack: ${entry} does not exist; run \`pnpm build\` first`);
      }
      services.set(name, {
        name,
        port: Number(env.PORT),
        portFixed,
        addrInUse: false,
        env,
        entry,
        logs: new LineBuffer(2000),
        proc: undefined,
      });
    }
  }

  const launch = async (svc: Service): Promise<void> => {
    svc.addrInUse = false;
    const proc = new ManagedProcess({
      command: process.execPath,
      args: [...nodeArgs, svc.entry],
      cwd: root,
      env: svc.env,
      logs: svc.logs,
      onLine: (line) => {
        if (line.includes("EADDRINUSE")) svc.addrInUse = true;
        if (mirror) process.stderr.write(`[${svc.name}] ${line}\n`);
        opts.onLog?.(svc.name, line);
      },
    });
    svc.proc = proc;
    await pollUntil(
      async () => {
        if (!proc.running) {
          throw new Error(
            `service ${svc.name} ${describeExit(proc.exit)} before it was ready. ` +
              `Last log lines:\n${svc.logs.tail()}`,
          );
        }
        return answersOk(`http://127.0.0.1:${svc.port}/readyz`);
      },
      {
        timeoutMs: readyTimeoutMs,
        intervalMs: 150,
        what: `service ${svc.name} GET http://127.0.0.1:${svc.port}/readyz to answer 200`,
        detail: () => `Last log lines of ${svc.name}:\n${svc.logs.tail()}`,
      },
    );
  };

  // A free port can be taken between probing and the service binding it (other test workers
  // open connections too); on the first start, move such a service to a fresh port.
  const launchFirst = async (svc: Service): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(svc);
      } catch (err) {
        if (svc.portFixed || !svc.addrInUse || attempt >= 3) throw err;
        svc.port = await freePort();
        svc.env.PORT = `${svc.port}`;
        svc.logs.push(`[testkit] port taken; retrying ${svc.name} on port ${svc.port}`);
      }
    }
  };

  const stopOne = async (svc: Service): Promise<void> => {
    await svc.proc?.terminate(stopTimeoutMs);
  };
  const stopAll = async () => {
    await Promise.all([...services.values()].map(stopOne));
  };

  // Services provision idempotently, so they can start in parallel.
  const started = await Promise.allSettled([...services.values()].map(launchFirst));
  const failures: unknown[] = started.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
  if (failures.length > 0) {
    await stopAll();
    const messages = failures.map((f) => (f instanceof Error ? f.message : String(f)));
    throw new Error(`startStack failed:\n${messages.join("\n\n")}`);
  }

  const relaunch = async (svc: Service): Promise<void> => {
    try {
      await launch(svc);
    } catch (err) {
      await stopOne(svc);
      throw err;
    }
  };

  const get = (name: string): Service => {
    const svc = services.get(name);
    if (!svc) throw new Error(`startStack: no service "${name}" in this stack`);
    return svc;
  };

  return {
    url: (name) => `http://127.0.0.1:${get(name).port}`,
    port: (name) => get(name).port,
    logs: (name) => get(name).logs.lines(),
    pid: (name) => get(name).proc?.pid ?? -1,
    stop: stopAll,
    restart: async (name) => {
      const svc = get(name);
      await stopOne(svc);
      svc.logs.push(`[testkit] restarting ${name}`);
      await relaunch(svc);
    },
    names: () => [...services.keys()],
    running: (name) => get(name).proc?.running === true,
    kill: async (name) => {
      const svc = get(name);
      const proc = svc.proc;
      if (proc === undefined) throw new Error(`startStack: ${name} was never started`);
      svc.logs.push(`[testkit] SIGKILL ${name} (pid ${proc.pid})`);
      await proc.kill();
      return proc.exited;
    },
    terminate: async (name, graceMs = stopTimeoutMs) => {
      const svc = get(name);
      const proc = svc.proc;
      if (proc === undefined) throw new Error(`startStack: ${name} was never started`);
      svc.logs.push(`[testkit] SIGTERM ${name} (pid ${proc.pid})`);
      await proc.terminate(graceMs);
      return proc.exited;
    },
    start: async (name, env) => {
      const svc = get(name);
      if (svc.proc?.running) throw new Error(`startStack: ${name} is still running`);
      if (env !== undefined) svc.env = { ...svc.env, ...env };
      svc.logs.push(`[testkit] starting ${name} again`);
      await relaunch(svc);
    },
  };
}
