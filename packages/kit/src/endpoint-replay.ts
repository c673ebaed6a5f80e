import { randomBytes } from "node:crypto";
import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvStatus } from "@nats-io/kv";
import { type Msg, type MsgHdrs, type NatsConnection, nanos } from "@nats-io/transport-node";
import { connectionInbox } from "./nats";

/** Messages asked for per pull request; two requests are kept outstanding. */
const BATCH = 4_000;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export interface BulkReplay {
  /** Resolves with the last revision applied; the bucket as it stood at `startSeq` is applied. */
  done: Promise<number>;
  stop(): void;
}

/** What nats.js's Bucket holds and does not export: without it, there is no bulk replay. */
interface BucketInternals {
  js?: { nc?: NatsConnection; prefix?: string };
  jsm?: JetStreamManager;
  stream?: string;
  codec?: { key?: { decode?: (key: string) => string } };
}

/** What nats.js's MsgImpl holds: the protocol line's byte fields and the payload, headers first. */
interface RawMsg {
  _msg?: { subject?: unknown; reply?: unknown; hdr?: number };
  _rdata?: Uint8Array;
}

const DOT = 46;
const ACK_PREFIX = encoder.encode("$JS.ACK.");
/** Header names that make a message other than a PUT; other headers need not be decoded. */
const KV_OPERATION = encoder.encode("KV-Operation");
const MARKER_REASON = encoder.encode("Nats-Marker-Reason");

function operationOf(headers: MsgHdrs | undefined): string {
  if (!headers) return "PUT";
  return headers.get("Nats-Marker-Reason") === "MaxAge"
    ? "PURGE"
    : headers.get("KV-Operation") || "PUT";
}

/** UTF-8 from `start` on: a Buffer (as nats.js's socket reads are) decodes without a subarray. */
function text(bytes: Uint8Array, start: number): string {
  return Buffer.isBuffer(bytes)
    ? bytes.toString("utf8", start, bytes.length)
    : decoder.decode(bytes.subarray(start));
}

/** True when `bytes` up to `end` hold `needle` anywhere: then the headers are decoded. */
function holds(bytes: Uint8Array, end: number, needle: Uint8Array): boolean {
  const first = needle[0];
  const last = end - needle.length;
  outer: for (let i = 0; i <= last; i++) {
    if (bytes[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A run of ASCII digits as a number, or -1. */
function digits(bytes: Uint8Array, start: number, end: number): number {
  if (start >= end) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (bytes[i] as number) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

interface AckFields {
  seq: number;
  pending: number;
}

/**
 * The stream sequence and pending count of a delivery's reply subject when it is
 * `ownPrefix`<delivered>.<seq>.<dseq>.<ts>.<pending>, as our consumer's replies are; else
 * undefined, and readAckReply decides.
 */
function readOwnAckReply(reply: Uint8Array, ownPrefix: Uint8Array): AckFields | undefined {
  const length = reply.length;
  let i = ownPrefix.length;
  if (length <= i) return undefined;
  // From the end: the prefix differs from others' at the consumer's name.
  while (i-- > 0) if (reply[i] !== ownPrefix[i]) return undefined;
  let seq = -1;
  let pending = 0;
  let token = 0;
  let value = 0;
  let digitsInToken = 0;
  for (i = ownPrefix.length; i < length; i++) {
    const byte = reply[i] as number;
    if (byte === DOT) {
      if (digitsInToken === 0) return undefined;
      if (token === 1) seq = value;
      token++;
      value = 0;
      digitsInToken = 0;
    } else if (byte >= 48 && byte <= 57) {
      // Only seq and pending are read; the timestamp's 19 digits would lose precision.
      if (token === 1 || token === 4) value = value * 10 + byte - 48;
      digitsInToken++;
    } else {
      return undefined;
    }
  }
  if (token !== 4 || digitsInToken === 0) return undefined;
  pending = value;
  return seq > 0 ? { seq, pending } : undefined;
}

/**
 * The stream sequence and pending count of a JetStream delivery's reply subject,
 * $JS.ACK.<stream>.<consumer>.<delivered>.<seq>.<dseq>.<ts>.<pending>, or with <domain>.<account>
 * after ACK and a random token at the end; undefined when it is no such subject.
 */
function readAckReply(reply: Uint8Array): AckFields | undefined {
  if (reply.length <= ACK_PREFIX.length) return undefined;
  for (let i = 0; i < ACK_PREFIX.length; i++) if (reply[i] !== ACK_PREFIX[i]) return undefined;
  let dots = 2;
  for (let i = ACK_PREFIX.length; i < reply.length; i++) if (reply[i] === DOT) dots++;
  const before = (from: number) => {
    let i = from - 1;
    while (i >= 0 && reply[i] !== DOT) i--;
    return i;
  };
  const end = dots === 8 ? reply.length : before(reply.length);
  const pendingAt = before(end);
  const dseqAt = before(before(pendingAt));
  const seqAt = before(dseqAt);
  if (seqAt < ACK_PREFIX.length) return undefined;
  const seq = digits(reply, seqAt + 1, dseqAt);
  const pending = digits(reply, pendingAt + 1, end);
  return seq > 0 && pending >= 0 ? { seq, pending } : undefined;
}

/**
 * Reads the latest message of every key of a KV bucket straight from its stream, with an
 * ephemeral pull consumer (deliver_policy last_per_subject, no acks) and big batches, and hands
 * each to `apply` as it comes: none of nats.js's per-message watcher machinery (a JsMsg and a
 * KvEntry per message, reply subjects re-parsed by getters, a queued iterator). Messages come in
 * stream order; it stops at the first revision at or past `startSeq` (or when nothing is left),
 * so a watch resumed from the revision after `done` misses nothing. Undefined when the bucket is
 * not one it can read this way, and the caller watches instead.
 */
export async function startBulkReplay(
  kv: KV,
  status: KvStatus,
  startSeq: number,
  apply: (key: string, revision: number, operation: string, value: string) => void,
): Promise<BulkReplay | undefined> {
  const internals = kv as unknown as BucketInternals;
  const nc = internals.js?.nc;
  const jsm = internals.jsm;
  const stream = internals.stream;
  const subjects = status.streamInfo.config.subjects ?? [];
  const filter = subjects[0];
  if (!nc || !jsm || !stream || subjects.length !== 1 || !filter?.endsWith(".>")) return undefined;
  const prefixLength = filter.length - 1;
  const decodeKey = internals.codec?.key?.decode?.bind(internals.codec.key);

  const config = {
    deliver_policy: DeliverPolicy.LastPerSubject,
    ack_policy: AckPolicy.None,
    filter_subject: filter,
    mem_storage: true,
    inactive_threshold: nanos(60_000),
  };
  // The name is in every message's reply subject: a short one is fewer bytes for nats-server to
  // write and for nats.js to scan, per message. A server without named creates gets none.
  const consumer = await jsm.consumers
    .add(stream, { ...config, name: `replay_${randomBytes(6).toString("base64url")}` })
    .catch(() => jsm.consumers.add(stream, config));
  const name = consumer.name;
  const nextSubject = `${internals.js?.prefix ?? "$JS.API"}.CONSUMER.MSG.NEXT.${stream}.${name}`;
  const inbox = connectionInbox(nc);
  const ownAckPrefix = encoder.encode(`$JS.ACK.${stream}.${name}.`);

  let settle: { resolve: (seq: number) => void; reject: (error: Error) => void };
  const done = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  let finished = false;
  let lastSeq = 0;
  let requested = 0;
  let received = 0;

  const finish = (error?: Error) => {
    if (finished) return;
    finished = true;
    sub.unsubscribe();
    jsm.consumers.delete(stream, name).catch(() => {});
    if (error) settle.reject(error);
    else settle.resolve(lastSeq);
  };
  const pull = () => {
    requested += BATCH;
    nc.publish(nextSubject, JSON.stringify({ batch: BATCH, expires: nanos(30_000) }), {
      reply: inbox,
    });
  };

  const onMessage = (msg: Msg) => {
    const raw = (msg as RawMsg)._msg;
    const rdata = (msg as RawMsg)._rdata;
    // nats.js's getters decode the reply, the subject and the headers into strings and objects
    // per message: read the bytes it holds instead, when it holds them as expected.
    if (raw?.reply instanceof Uint8Array && raw.subject instanceof Uint8Array && rdata) {
      const ack = readOwnAckReply(raw.reply, ownAckPrefix) ?? readAckReply(raw.reply);
      if (ack) {
        const hdr = raw.hdr ?? -1;
        const operation =
          hdr > 0 && (holds(rdata, hdr, KV_OPERATION) || holds(rdata, hdr, MARKER_REASON))
            ? operationOf(msg.headers)
            : "PUT";
        const rawKey = text(raw.subject, prefixLength);
        const key = decodeKey ? decodeKey(rawKey) : rawKey;
        const value = operation === "PUT" ? text(rdata, Math.max(hdr, 0)) : "";
        return applied(key, ack.seq, operation, value, ack.pending);
      }
    }
    const reply = msg.reply;
    if (!reply?.startsWith("$JS.ACK.")) {
      // A status: a pull request expired (408) or found nothing (404); anything else is an error.
      const code = msg.headers?.code ?? 0;
      if (code === 404 || code === 408) {
        requested = received;
        pull();
        pull();
      } else {
        finish(new Error(`bulk replay: ${code} ${msg.headers?.description ?? ""}`));
      }
      return;
    }
    const ack = readAckReply(encoder.encode(reply));
    if (!ack) throw new Error(`bulk replay: cannot read ${reply}`);
    const rawKey = msg.subject.substring(prefixLength);
    const operation = operationOf(msg.headers);
    applied(
      decodeKey ? decodeKey(rawKey) : rawKey,
      ack.seq,
      operation,
      operation === "PUT" ? msg.string() : "",
      ack.pending,
    );
  };
  const applied = (key: string, seq: number, operation: string, value: string, pending: number) => {
    received++;
    apply(key, seq, operation, value);
    lastSeq = seq;
    if (seq >= startSeq || pending === 0) {
      finish();
      return;
    }
    if (requested - received <= BATCH) pull();
  };
  const sub = nc.subscribe(inbox, {
    callback: (error, msg) => {
      if (finished) return;
      if (error) return finish(error);
      try {
        onMessage(msg);
      } catch (thrown) {
        finish(thrown as Error);
      }
    },
  });

  if (consumer.num_pending === 0) finish();
  else {
    pull();
    pull();
  }
  return { done, stop: () => finish(new Error("stopped")) };
}
