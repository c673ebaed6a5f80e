/**
 * Runs NATS acks and publishes of every task that finished in one event-loop turn together.
 * nats.js flushes its outbound buffer once per microtask checkpoint, and Node runs one after
 * every I/O callback, so without this each HTTP response costs its own socket write; under
 * load that write was the largest single cost of a delivery.
 */
export interface WriteCoalescer {
  defer(write: () => void): void;
  /** Resolves once every deferred write has run (before draining NATS at shutdown). */
  flushed(): Promise<void>;
}

export function createWriteCoalescer(onError: (error: unknown) => void): WriteCoalescer {
  let queue: (() => void)[] = [];
  let scheduled = false;
  const run = () => {
    scheduled = false;
    const writes = queue;
    queue = [];
    for (const write of writes) {
      try {
        write();
      } catch (error) {
        onError(error);
      }
    }
  };
  return {
    defer(write) {
      queue.push(write);
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    },
    flushed: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}
