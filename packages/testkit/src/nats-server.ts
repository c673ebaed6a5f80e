import { accessSync, constants } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { trackDir, untrackDir } from "./emergency-cleanup";
import { freePort, preferredOrFreePort } from "./free-port";
import { LineBuffer } from "./line-buffer";
import { describeExit, ManagedProcess } from "./managed-process";
import { answersOk, canConnect, pollUntil } from "./wait";

export interface StartNatsServerOptions {
  /** JetStream store dir to use and keep; by default a temp dir removed by stop(). */
  storeDir?: string;
  /** Client and monitoring ports to use when free (the dev runner wants 4222 and 8222). */
  preferredPorts?: { client: number; monitor: number };
  /**
   * A nats-server config file to load (`-c`), e.g. one with users and permissions. The address,
   * ports, JetStream and its store dir still come from the command line, which wins.
   */
  configFile?: string;
  /** Extra environment for nats-server: what the config file's `$VARIABLES` resolve to. */
  env?: Record<string, string>;
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:<monitorPort>` */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** The current process id; it changes on restart(). */
  readonly pid: number;
  /** The server's recent stdout/stderr lines. */
  logs(): string[];
  /** SIGTERM, SIGKILL after 5 s; removes the store dir unless it was passed in. */
  stop(): Promise<void>;
  /** SIGKILL, keeping the store: simulates a crash for outage tests. */
  kill(): Promise<void>;
  /** Starts again on the same port and store dir (stopping first if running), waits until ready. */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

/** nats-server from NATS_SERVER_BIN, else PATH, else Debian's /usr/sbin/nats-server. */
export function natsServerBin(): string {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return fromEnv;
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const dir of [...dirs, "/usr/sbin", "/usr/local/bin"]) {
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    "nats-server not found on PATH or in /usr/sbin; install it (apt-get install nats-server) " +
      "or set NATS_SERVER_BIN",
  );
}

/** Starts a JetStream-enabled nats-server on free ports and waits until it is healthy. */
export async function startNatsServer(
  opts: StartNatsServerOptions = {},
): Promise<NatsServerHandle> {
  const bin = natsServerBin();
  const ownsStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), "hookline-nats-")));
  if (ownsStore) trackDir(storeDir);
  else await mkdir(storeDir, { recursive: true });
  const logs = new LineBuffer(1000);
  const mirror = process.env.HOOKLINE_TEST_LOGS === "1";
  // Set when the current launch could not bind: its free port was taken first.
  let addrInUse = false;

  const launch = async (port: number, monitorPort: number): Promise<ManagedProcess> => {
    addrInUse = false;
    const proc = new ManagedProcess({
      command: bin,
      args: [
        ...(opts.configFile === undefined ? [] : ["-c", opts.configFile]),
        ...["-a", "127.0.0.1", "-p", `${port}`, "-m", `${monitorPort}`, "-js", "-sd", storeDir],
      ],
      ...(opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } }),
      logs,
      onLine: (line) => {
        if (line.includes("address already in use")) addrInUse = true;
        if (mirror) process.stderr.write(`[nats:${port}] ${line}\n`);
      },
    });
    try {
      await pollUntil(
        async () => {
          if (!proc.running) {
            throw new Error(
              `nats-server ${describeExit(proc.exit)} before it was ready:\n${logs.tail()}`,
            );
          }
          return (
            (await canConnect(port)) &&
            (await answersOk(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`))
          );
        },
        {
          timeoutMs: READY_TIMEOUT_MS,
          what: `nats-server on port ${port}`,
          detail: () => logs.tail(),
        },
      );
      return proc;
    } catch (err) {
      await proc.kill();
      throw err;
    }
  };

  // Free ports can be taken between probing and binding; try fresh ones a few times.
  let proc: ManagedProcess | undefined;
  let port = 0;
  let monitorPort = 0;
  for (let attempt = 1; proc === undefined; attempt++) {
    const preferred = attempt === 1 ? opts.preferredPorts : undefined;
    port = preferred ? await preferredOrFreePort(preferred.client) : await freePort();
    monitorPort = preferred ? await preferredOrFreePort(preferred.monitor) : await freePort();
    while (monitorPort === port) monitorPort = await freePort();
    try {
      proc = await launch(port, monitorPort);
    } catch (err) {
      if (!addrInUse || attempt >= 3) {
        if (ownsStore) await removeStore(storeDir);
        throw err;
      }
    }
  }

  let current: ManagedProcess = proc;
  let stopped = false;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    storeDir,
    get pid() {
      return current.pid;
    },
    logs: () => logs.lines(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await current.terminate(STOP_GRACE_MS);
      if (ownsStore) await removeStore(storeDir);
    },
    kill: async () => {
      await current.kill();
    },
    restart: async () => {
      if (stopped) throw new Error("nats-server handle was stopped; start a new one instead");
      await current.terminate(STOP_GRACE_MS);
      logs.push(`[testkit] restarting nats-server on port ${port}`);
      current = await launch(port, monitorPort);
    },
  };
}

async function removeStore(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  untrackDir(dir);
}
