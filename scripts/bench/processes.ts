// Child processes of the benchmark, and what /proc says about any process: CPU seconds, RSS,
// and the whole box's busy time.
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const HERE = import.meta.dirname;
/** USER_HZ: /proc counts CPU time in these. 100 on every Linux build in use. */
const TICKS_PER_SECOND = 100;

export interface BenchChild {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Sends a message and resolves with the next message whose type is `reply`. */
  ask<T>(message: unknown, reply: string): Promise<T>;
  stop(): Promise<void>;
}

/** Forks scripts/bench/<script>.ts under tsx with an IPC channel. */
export function forkChild(
  name: string,
  script: string,
  env: Record<string, string> = {},
): BenchChild {
  const proc = fork(join(HERE, `${script}.ts`), [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = <T>(message: unknown, reply: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (answer: { type?: string }) => {
        if (answer?.type !== reply) return;
        proc.off("message", onMessage);
        proc.off("exit", onExit);
        resolve(answer as T);
      };
      const onExit = (code: number | null) => {
        proc.off("message", onMessage);
        reject(new Error(`${name} exited (${code}) before answering ${reply}`));
      };
      proc.on("message", onMessage);
      proc.once("exit", onExit);
      if (message !== undefined) proc.send(message as object);
    });
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    ask,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        proc.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        if (proc.connected) proc.disconnect();
        else proc.kill("SIGTERM");
      }),
  };
}

/** User plus system CPU seconds of a process so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in MB; NaN when the process is gone. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** The whole box's busy and total CPU seconds since boot (all cores). */
export function boxCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, ...values] = line.trim().split(/\s+/);
  const ticks = values.map(Number);
  const total = ticks.reduce((sum, t) => sum + t, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** CPU of named processes and of the box over a window of the benchmark. */
export interface CpuWindow {
  /** CPU seconds per process over the window. */
  seconds: Record<string, number>;
  /** Busy share of the whole box, in % of one core (200 % is this 2-core box saturated). */
  boxPercent: number;
  wallSeconds: number;
}

export function startCpuWindow(pids: Record<string, number>): () => CpuWindow {
  const startedAt = performance.now();
  const box = boxCpu();
  const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuSeconds(pid)]));
  return () => {
    const wallSeconds = (performance.now() - startedAt) / 1_000;
    const after = boxCpu();
    const seconds = Object.fromEntries(
      Object.entries(pids).map(([n, pid]) => [n, cpuSeconds(pid) - (before[n] ?? 0)]),
    );
    const boxPercent = ((after.busy - box.busy) / wallSeconds) * 100;
    return { seconds, boxPercent, wallSeconds };
  };
}
