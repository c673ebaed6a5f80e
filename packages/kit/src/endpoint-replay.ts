import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvStatus } from "@nats-io/kv";
import { createInbox, type Msg, type NatsConnection, nanos } from "@nats-io/transport-node";

/** Messages asked for per pull request; two requests are kept outstanding. */
const BATCH = 4_000;

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
  apply: (key: string, revision: number, operation: string, value: Uint8Array) => void,
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

  const consumer = await jsm.consumers.add(stream, {
    deliver_policy: DeliverPolicy.LastPerSubject,
    ack_policy: AckPolicy.None,
    filter_subject: filter,
    mem_storage: true,
    inactive_threshold: nanos(60_000),
  });
  const name = consumer.name;
  const nextSubject = `${internals.js?.prefix ?? "$JS.API"}.CONSUMER.MSG.NEXT.${stream}.${name}`;
  const inbox = createInbox();

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
    received++;
    // $JS.ACK.<stream>.<consumer>.<delivered>.<seq>.<dseq>.<ts>.<pending>, or with
    // <domain>.<account> after ACK and a random token at the end: read from the end, no split.
    let end = reply.length;
    let dots = 0;
    for (let i = 0; i < reply.length; i++) if (reply.charCodeAt(i) === 46) dots++;
    if (dots !== 8) end = reply.lastIndexOf(".", end - 1);
    const pendingAt = reply.lastIndexOf(".", end - 1);
    const tsAt = reply.lastIndexOf(".", pendingAt - 1);
    const dseqAt = reply.lastIndexOf(".", tsAt - 1);
    const seqAt = reply.lastIndexOf(".", dseqAt - 1);
    const pending = Number(reply.slice(pendingAt + 1, end));
    const seq = Number(reply.slice(seqAt + 1, dseqAt));
    if (!(seq > 0) || !(pending >= 0)) throw new Error(`bulk replay: cannot read ${reply}`);
    const raw = msg.subject.substring(prefixLength);
    const key = decodeKey ? decodeKey(raw) : raw;
    let operation = "PUT";
    const headers = msg.headers;
    if (headers) {
      operation =
        headers.get("Nats-Marker-Reason") === "MaxAge"
          ? "PURGE"
          : headers.get("KV-Operation") || "PUT";
    }
    apply(key, seq, operation, msg.data);
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
