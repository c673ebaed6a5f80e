/**
 * Runs NATS acks and publishes of every task that finished within a millisecond together.
 * nats.js flushes its outbound buffer once per microtask checkpoint, and Node runs one after
 * every I/O callback, so without this each HTTP response costs its own socket write; under
 * load that write was the largest single cost of a delivery. A millisecond rather than one
 * event-loop turn: at a steady 1,000/s most turns hold one task, and each write wakes
 * nats-server, which on this VM costs more CPU than the message (the paced benchmark: box
 * 151–162 % → 130–134 %, for ≤ 1 ms on the ack).
 */
export interface WriteCoalescer {
  defer(write: () => void): void;
  /** Resolves once every deferred write has run (before draining NATS at shutdown). */
  flushed(): Promise<void>;
}

const WINDOW_MS = 1;

export interface WriteCoalescerOptions {
  /** Runs after each run's writes, in the same socket write: what they gathered goes out. */
  afterWrites?: () => void;
}

export function createWriteCoalescer(
  onError: (error: unknown) => void,
  options: WriteCoalescerOptions = {},
): WriteCoalescer {
  let queue: (() => void)[] = [];
  let scheduled: Promise<void> | undefined;
  let ran: () => void = () => {};
  const run = () => {
    scheduled = undefined;
    const done = ran;
    const writes = queue;
    queue = [];
    for (const write of writes) {
      try {
        write();
      } catch (error) {
        onError(error);
      }
    }
    if (options.afterWrites) {
      try {
        options.afterWrites();
      } catch (error) {
        onError(error);
      }
    }
    done();
  };
  return {
    defer(write) {
      queue.push(write);
      if (!scheduled) {
        scheduled = new Promise<void>((resolve) => (ran = resolve));
        setTimeout(run, WINDOW_MS);
      }
    },
    flushed: () => scheduled ?? Promise.resolve(),
  };
}
