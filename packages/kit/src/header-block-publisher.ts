import {
  JetStreamApiError,
  type JetStreamClient,
  JetStreamError,
  type PubAck,
} from "@nats-io/jetstream";
import { errors, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { connectionInbox } from "./nats";

/** Publishes a message whose NATS header block is already encoded; resolves with its PubAck. */
export type HeaderBlockPublisher = (
  subject: string,
  data: Uint8Array,
  block: Uint8Array,
) => Promise<PubAck>;

/**
 * Headers already encoded: a publish only ever calls `encode()` on its headers (nats-core's
 * protocol.publish), so the block goes out as it is.
 */
class EncodedHeaders {
  constructor(private readonly block: Uint8Array) {}
  encode(): Uint8Array {
    return this.block;
  }
}
export const encodedHeaders = (block: Uint8Array) =>
  new EncodedHeaders(block) as unknown as MsgHdrs;

/** The stock client: `js.publish`, one `nc.request` per message. */
export function jetStreamBlockPublisher(
  js: JetStreamClient,
  timeoutMs?: number,
): HeaderBlockPublisher {
  return (subject, data, block) =>
    js.publish(subject, data, {
      headers: encodedHeaders(block),
      ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
    });
}

const FLUSH_WINDOW_MS = 1;

interface Pending {
  subject: string;
  deadline: number;
  resolve: (ack: PubAck) => void;
  reject: (error: unknown) => void;
}

interface Queued {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  reply: string;
  token: string;
}

/**
 * JetStream publishes on the hot paths (ingest's tasks, the classifier's released retries): the
 * messages on the wire are those of `js.publish` (an HPUB with a reply subject; the server
 * answers with a PubAck or an API error), but
 *
 * - the PubAcks are read off one inbox subscription instead of one `nc.request` each, which
 *   built a timer and two error objects (with their stack traces) per publish;
 * - the publishes of a millisecond go out together, one socket write instead of one per
 *   publish (a millisecond rather than one event-loop turn: at a steady 1,000/s most turns
 *   hold one publish, and each write wakes nats-server, which on this VM costs more CPU than
 *   the message);
 * - one timer sweeps the timeouts (every `timeoutMs / 8`, so a timeout is late by at most that).
 *
 * Errors are those of `js.publish`: `TimeoutError`, `NoRespondersError`, `JetStreamApiError`
 * (stream full, backlog quota), `ClosedConnectionError` once the connection is closed.
 */
export function createHeaderBlockPublisher(
  nc: NatsConnection,
  timeoutMs: number,
): HeaderBlockPublisher {
  const prefix = `${connectionInbox(nc)}.`;
  const pending = new Map<string, Pending>();
  let queue: Queued[] = [];
  let next = 0;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let subscribed = false;

  const fail = (token: string, error: unknown) => {
    const entry = pending.get(token);
    if (entry === undefined) return;
    pending.delete(token);
    entry.reject(error);
  };
  const failAll = (error: () => unknown) => {
    for (const token of [...pending.keys()]) fail(token, error());
  };

  const onReply = (error: Error | null, msg: Msg) => {
    if (error !== null) {
      // The inbox subscription itself failed: nothing waiting can get its PubAck any more, and
      // the next publish subscribes again.
      subscribed = false;
      failAll(() => error);
      return;
    }
    const token = msg.subject.slice(prefix.length);
    const entry = pending.get(token);
    if (entry === undefined) return; // already timed out
    pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      entry.reject(new errors.NoRespondersError(entry.subject));
      return;
    }
    let answer: PubAck & { error?: ConstructorParameters<typeof JetStreamApiError>[0] };
    try {
      answer = JSON.parse(
        Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.length).toString("utf8"),
      );
    } catch (parseError) {
      entry.reject(parseError);
      return;
    }
    if (answer.error !== undefined) {
      entry.reject(new JetStreamApiError(answer.error));
      return;
    }
    if (typeof answer.stream !== "string" || answer.stream === "") {
      entry.reject(new JetStreamError("invalid ack response"));
      return;
    }
    answer.duplicate = answer.duplicate ?? false;
    entry.resolve(answer);
  };

  const sweep = () => {
    const now = performance.now();
    // Deadlines grow with insertion order (one timeout, a monotonic clock), so the first live
    // one ends the sweep.
    for (const [token, entry] of pending) {
      if (entry.deadline > now) break;
      fail(token, new errors.TimeoutError());
    }
    if (pending.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };

  const flush = () => {
    const batch = queue;
    queue = [];
    for (const item of batch) {
      // A publish can throw at once (closed connection, oversized message): only its own fails.
      try {
        nc.publish(item.subject, item.data, { headers: item.headers, reply: item.reply });
      } catch (error) {
        fail(item.token, error);
      }
    }
  };

  const subscribe = () => {
    nc.subscribe(`${prefix}*`, { callback: onReply });
    subscribed = true;
  };
  void nc.closed().then(() => failAll(() => new errors.ClosedConnectionError()));

  return (subject, data, block) => {
    if (nc.isClosed()) return Promise.reject(new errors.ClosedConnectionError());
    try {
      // Subscribing throws on a draining connection: this publish fails, as js.publish would.
      if (!subscribed) subscribe();
    } catch (error) {
      return Promise.reject(error);
    }
    const token = (next++).toString(36);
    const promise = new Promise<PubAck>((resolve, reject) => {
      pending.set(token, { subject, deadline: performance.now() + timeoutMs, resolve, reject });
    });
    if (queue.length === 0) setTimeout(flush, FLUSH_WINDOW_MS);
    queue.push({ subject, data, headers: encodedHeaders(block), reply: prefix + token, token });
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, Math.max(10, Math.floor(timeoutMs / 8)));
      sweeper.unref();
    }
    return promise;
  };
}
