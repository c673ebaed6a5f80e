import { connect } from "node:net";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Describes what is awaited, for the timeout message. */
  what: string;
  /** Extra detail (e.g. recent logs) appended to the timeout message. */
  detail?: () => string;
}

/**
 * Calls `ready` until it returns true. An exception from `ready` aborts the wait at once, which
 * is how callers report "the process died" instead of waiting out the timeout.
 */
export async function pollUntil(ready: () => Promise<boolean>, opts: PollOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await ready()) return;
    if (Date.now() >= deadline) {
      const detail = opts.detail?.();
      throw new Error(
        `Timed out after ${opts.timeoutMs}ms waiting for ${opts.what}${detail ? `\n${detail}` : ""}`,
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** True when something accepts a TCP connection on host:port. */
export function canConnect(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** True when GET url answers 200. Network errors and slow answers count as "not yet". */
export async function answersOk(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
