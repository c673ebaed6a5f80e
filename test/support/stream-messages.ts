import {
  type DeadLetterMeta,
  type Decoded,
  decodeDeadLetter,
  decodeDeliveredOutcomes,
  decodeOutcome,
  type HooklineNames,
  type OutcomeMeta,
} from "@hookline/contracts";
import { pollUntil } from "@hookline/testkit";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * The messages a stream holds now on one subject, read by sequence. No consumer is involved, so
 * it works on workqueue streams (DEADLETTER) whose one consumer belongs to another service, and
 * it takes nothing away. Meant for the few dozen messages a test produces.
 */
export async function storedMessages(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const found: StoredMsg[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq });
    if (msg !== null && msg.subject === subject) found.push(msg);
  }
  return found;
}

/** What a decoder read from a stored message; an undecodable one fails the test. */
function decodedOrThrow<T>(decoded: Decoded<T>, msg: StoredMsg): T {
  if (!decoded.ok) throw new Error(`undecodable message on ${msg.subject}: ${decoded.error}`);
  return decoded.value;
}

/**
 * What delivery and the classifier published, decoded with contracts: failed outcomes as they
 * were published (OUTCOMES is a work queue the classifier empties, so they are recorded from a
 * subscription that starts with the inspector), delivered outcomes and dead letters as stored.
 */
export interface StreamInspector {
  deadLetters(endpointId: string): Promise<DeadLetterMeta[]>;
  failedOutcomes(endpointId: string): Promise<OutcomeMeta[]>;
  deliveredOutcomes(endpointId: string): Promise<OutcomeMeta[]>;
  /** Resolves once at least `count` dead letters for the endpoint are stored. */
  waitForDeadLetters(
    endpointId: string,
    count: number,
    timeoutMs?: number,
  ): Promise<DeadLetterMeta[]>;
  waitForDelivered(endpointId: string, count: number, timeoutMs?: number): Promise<OutcomeMeta[]>;
  /** Stops recording failed outcomes. */
  stop(): void;
}

/** Start it before the events it should see are posted. */
export function inspectStreams(
  nc: NatsConnection,
  jsm: JetStreamManager,
  names: HooklineNames,
): StreamInspector {
  const failed = new Map<string, OutcomeMeta[]>();
  const subscription = nc.subscribe(names.subjects.outcomeFailedAll, {
    callback: (error, msg) => {
      if (error) return;
      const decoded = decodeOutcome(msg.headers);
      if (!decoded.ok) return;
      const list = failed.get(decoded.value.endpointId) ?? [];
      // A redelivered task may publish an outcome JetStream drops as a duplicate: keep one.
      const msgId = msg.headers?.get("Nats-Msg-Id");
      if (list.some((seen) => seenIds.get(seen) === msgId)) return;
      seenIds.set(decoded.value, msgId);
      list.push(decoded.value);
      failed.set(decoded.value.endpointId, list);
    },
  });
  const seenIds = new WeakMap<OutcomeMeta, string | undefined>();
  const deadLetters = async (endpointId: string) =>
    (
      await storedMessages(jsm, names.streams.deadletter, names.subjects.deadletter(endpointId))
    ).map((msg) => decodedOrThrow(decodeDeadLetter(msg.header), msg));
  const failedOutcomes = async (endpointId: string) => {
    await nc.flush();
    return [...(failed.get(endpointId) ?? [])];
  };
  const deliveredOutcomes = async (endpointId: string) =>
    (
      await storedMessages(jsm, names.streams.attempts, names.subjects.outcomeDelivered(endpointId))
    ).flatMap((msg) =>
      decodedOrThrow(decodeDeliveredOutcomes({ headers: msg.header, data: msg.data }), msg),
    );

  const waitForCount = async <T>(
    read: () => Promise<T[]>,
    count: number,
    timeoutMs: number,
    what: string,
  ): Promise<T[]> => {
    let last: T[] = [];
    await pollUntil(
      async () => {
        last = await read();
        return last.length >= count;
      },
      { timeoutMs, intervalMs: 100, what, detail: () => `found ${last.length}` },
    );
    return last;
  };

  return {
    stop: () => subscription.unsubscribe(),
    deadLetters,
    failedOutcomes,
    deliveredOutcomes,
    waitForDeadLetters: (endpointId, count, timeoutMs = 10_000) =>
      waitForCount(
        () => deadLetters(endpointId),
        count,
        timeoutMs,
        `${count} dead letters for ${endpointId}`,
      ),
    waitForDelivered: (endpointId, count, timeoutMs = 10_000) =>
      waitForCount(
        () => deliveredOutcomes(endpointId),
        count,
        timeoutMs,
        `${count} delivered outcomes for ${endpointId}`,
      ),
  };
}
