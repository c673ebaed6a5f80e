import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trackDir, untrackDir } from "./emergency-cleanup";
import { freePort } from "./free-port";
import { LineBuffer } from "./line-buffer";
import { describeExit, ManagedProcess } from "./managed-process";
import { natsServerBin } from "./nats-server";
import { answersOk, canConnect, pollUntil } from "./wait";

export interface StartNatsClusterOptions {
  /** Nodes; default 3 (JetStream needs a majority, so 3 survives the loss of one). */
  size?: number;
  /** The cluster name; default "testkit". */
  name?: string;
  /** How long start-up and each restart may take; default 30 s. */
  readyTimeoutMs?: number;
}

export interface NatsClusterNode {
  /** server_name, `n1`, `n2`, … */
  readonly name: string;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  /** `http://127.0.0.1:<monitorPort>` */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** The current process id; it changes on start(). */
  readonly pid: number;
  readonly running: boolean;
  logs(): string[];
  /** SIGKILL, keeping the store: a crashed node. */
  kill(): Promise<void>;
  /** Starts a killed node again (same ports and store) and waits until it is healthy. */
  start(): Promise<void>;
}

export interface NatsClusterHandle {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  readonly urls: string;
  node(name: string): NatsClusterNode;
  /** The server_name of the stream's leader as a running node reports it; undefined in elections. */
  streamLeader(stream: string): Promise<string | undefined>;
  /** The server_name of the JetStream meta leader; undefined in elections. */
  metaLeader(): Promise<string | undefined>;
  /**
   * Every raft group's leader as the first running node reports them: the meta group, each
   * stream (`STREAM`) and each consumer (`STREAM/consumer`); undefined while one is elected.
   */
  leaders(): Promise<{ group: string; leader: string | undefined }[]>;
  /** SIGTERM every node (SIGKILL after 5 s) and removes the stores. */
  stop(): Promise<void>;
}

interface JszStream {
  name: string;
  cluster?: { leader?: string };
  consumer_detail?: { name: string; cluster?: { leader?: string } }[];
}

interface Jsz {
  meta_cluster?: { leader?: string };
  account_details?: { stream_detail?: JszStream[] }[];
}

const STOP_GRACE_MS = 5_000;

/**
 * A JetStream cluster of nats-server processes on 127.0.0.1 (clients, routes and monitoring),
 * each with its own store in one temp dir. Resolves once every node answers /healthz and a meta
 * leader is elected.
 */
export async function startNatsCluster(
  opts: StartNatsClusterOptions = {},
): Promise<NatsClusterHandle> {
  const size = opts.size ?? 3;
  const clusterName = opts.name ?? "testkit";
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const bin = natsServerBin();
  const root = await mkdtemp(join(tmpdir(), "hookline-nats-cluster-"));
  trackDir(root);
  const mirror = process.env.HOOKLINE_TEST_LOGS === "1";

  const taken = new Set<number>();
  const distinctPort = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };

  interface NodeState {
    name: string;
    port: number;
    clusterPort: number;
    monitorPort: number;
    storeDir: string;
    logs: LineBuffer;
    proc: ManagedProcess | undefined;
  }
  const states: NodeState[] = [];
  for (let i = 1; i <= size; i++) {
    states.push({
      name: `n${i}`,
      port: await distinctPort(),
      clusterPort: await distinctPort(),
      monitorPort: await distinctPort(),
      storeDir: join(root, `n${i}`),
      logs: new LineBuffer(1000),
      proc: undefined,
    });
  }
  const routes = states.map((s) => `nats://127.0.0.1:${s.clusterPort}`).join(",");

  const spawnNode = (state: NodeState): ManagedProcess => {
    const proc = new ManagedProcess({
      command: bin,
      args: [
        "-a",
        "127.0.0.1",
        "-p",
        `${state.port}`,
        "-m",
        `${state.monitorPort}`,
        "-js",
        "-sd",
        state.storeDir,
        "--server_name",
        state.name,
        "--cluster_name",
        clusterName,
        "--cluster",
        `nats://127.0.0.1:${state.clusterPort}`,
        "--routes",
        routes,
      ],
      logs: state.logs,
      onLine: (line) => {
        if (mirror) process.stderr.write(`[nats:${state.name}] ${line}\n`);
      },
    });
    state.proc = proc;
    return proc;
  };

  const waitHealthy = async (state: NodeState): Promise<void> => {
    await pollUntil(
      async () => {
        const proc = state.proc;
        if (proc === undefined || !proc.running) {
          throw new Error(
            `nats-server ${state.name} ${describeExit(proc?.exit)}:\n${state.logs.tail()}`,
          );
        }
        return (
          (await canConnect(state.port)) &&
          (await answersOk(`http://127.0.0.1:${state.monitorPort}/healthz`))
        );
      },
      {
        timeoutMs: readyTimeoutMs,
        intervalMs: 200,
        what: `nats-server ${state.name} (port ${state.port}) to be healthy in the cluster`,
        detail: () => state.logs.tail(),
      },
    );
  };

  const jsz = async (state: NodeState, consumers = false): Promise<Jsz | undefined> => {
    if (!state.proc?.running) return undefined;
    try {
      const res = await fetch(
        `http://127.0.0.1:${state.monitorPort}/jsz?accounts=true&streams=true` +
          (consumers ? "&consumers=true" : ""),
        { signal: AbortSignal.timeout(2_000) },
      );
      return res.ok ? ((await res.json()) as Jsz) : undefined;
    } catch {
      return undefined;
    }
  };

  const metaLeader = async (): Promise<string | undefined> => {
    for (const state of states) {
      const leader = (await jsz(state))?.meta_cluster?.leader;
      if (leader) return leader;
    }
    return undefined;
  };

  const stopAll = async (): Promise<void> => {
    await Promise.all(states.map((s) => s.proc?.terminate(STOP_GRACE_MS)));
    await rm(root, { recursive: true, force: true });
    untrackDir(root);
  };

  try {
    for (const state of states) spawnNode(state);
    await Promise.all(states.map(waitHealthy));
    await pollUntil(async () => (await metaLeader()) !== undefined, {
      timeoutMs: readyTimeoutMs,
      intervalMs: 200,
      what: "a JetStream meta leader",
      detail: () => states.map((s) => `${s.name}:\n${s.logs.tail(10)}`).join("\n"),
    });
  } catch (err) {
    await stopAll();
    throw err;
  }

  const nodes: NatsClusterNode[] = states.map((state) => ({
    name: state.name,
    url: `nats://127.0.0.1:${state.port}`,
    port: state.port,
    clusterPort: state.clusterPort,
    monitorUrl: `http://127.0.0.1:${state.monitorPort}`,
    storeDir: state.storeDir,
    get pid() {
      return state.proc?.pid ?? -1;
    },
    get running() {
      return state.proc?.running === true;
    },
    logs: () => state.logs.lines(),
    kill: async () => {
      state.logs.push(`[testkit] SIGKILL ${state.name}`);
      await state.proc?.kill();
    },
    start: async () => {
      if (state.proc?.running) throw new Error(`nats-server ${state.name} is still running`);
      state.logs.push(`[testkit] starting ${state.name} again`);
      spawnNode(state);
      await waitHealthy(state);
    },
  }));

  let stopped = false;
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    node: (name) => {
      const found = nodes.find((n) => n.name === name);
      if (!found) throw new Error(`startNatsCluster: no node "${name}"`);
      return found;
    },
    metaLeader,
    streamLeader: async (stream) => {
      for (const state of states) {
        const details = (await jsz(state))?.account_details ?? [];
        for (const account of details) {
          const found = account.stream_detail?.find((s) => s.name === stream);
          if (found?.cluster?.leader) return found.cluster.leader;
        }
      }
      return undefined;
    },
    leaders: async () => {
      for (const state of states) {
        const report = await jsz(state, true);
        if (report === undefined) continue;
        const found: { group: string; leader: string | undefined }[] = [
          { group: "meta", leader: report.meta_cluster?.leader || undefined },
        ];
        for (const account of report.account_details ?? []) {
          for (const stream of account.stream_detail ?? []) {
            found.push({ group: stream.name, leader: stream.cluster?.leader || undefined });
            for (const consumer of stream.consumer_detail ?? []) {
              found.push({
                group: `${stream.name}/${consumer.name}`,
                leader: consumer.cluster?.leader || undefined,
              });
            }
          }
        }
        return found;
      }
      return [];
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}
