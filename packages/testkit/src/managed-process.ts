import { type ChildProcess, spawn } from "node:child_process";
import { trackPid, untrackPid } from "./emergency-cleanup";
import type { LineBuffer } from "./line-buffer";

export interface SpawnOptions {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Receives stdout and stderr, line by line. */
  logs: LineBuffer;
  /** Called with each complete output line (mirroring, pretty printing). */
  onLine?: (line: string) => void;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A spawned child whose output is captured and whose pid is known to the emergency cleanup
 * from spawn until exit.
 */
export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  #exit: Exit | undefined;
  readonly #child: ChildProcess;

  constructor(opts: SpawnOptions) {
    const child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    const onData = (chunk: Buffer) => {
      for (const line of opts.logs.write(chunk.toString("utf8"))) opts.onLine?.(line);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    this.exited = new Promise<Exit>((resolve) => {
      child.on("error", (err) => {
        opts.logs.push(`[testkit] ${opts.command}: ${err.message}`);
        // Only a failed spawn (no pid) ends the process; a failed kill() also lands here.
        if (child.pid !== undefined) return;
        this.#exit = { code: null, signal: null };
        resolve(this.#exit);
      });
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        if (child.pid !== undefined) untrackPid(child.pid);
        resolve(this.#exit);
      });
    });
    // A spawn failure (ENOENT) leaves pid undefined; -1 marks it, and `exited` resolves anyway.
    this.pid = child.pid ?? -1;
    if (child.pid !== undefined) trackPid(child.pid);
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** How the process ended, for error messages; undefined while it runs. */
  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async terminate(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child.kill("SIGKILL");
    await this.exited;
  }
}

export function describeExit(exit: Exit | undefined): string {
  if (exit === undefined) return "still running";
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
