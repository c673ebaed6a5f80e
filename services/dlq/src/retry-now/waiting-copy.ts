import { Header, type HooklineNames } from "@hookline/contracts";
import type { JetStreamManager, MsgRequest, StoredMsg } from "@nats-io/jetstream";

/** Messages of one endpoint's tiers read at most while looking for one task's waiting copy. */
export const MAX_SCANNED = 10_000;

export type WaitingCopySearch =
  | { outcome: "found"; copy: StoredMsg }
  /** No copy of the task on the endpoint's tier subjects from `since` on: released already. */
  | { outcome: "absent" }
  /** MAX_SCANNED of the endpoint's waiting retries read without meeting the task. */
  | { outcome: "too_many"; scanned: number };

export interface WaitingCopyQuery {
  taskId: string;
  endpointId: string;
  /** The copy was written at or after this (its failed attempt's time, less clock skew). */
  since: Date;
  maxScanned?: number;
}

/**
 * Finds the copy of a task that waits in the RETRY stream, on `retry.<any tier>.<ep>`.
 *
 * RETRY is a work queue whose `retry-<tier>` durables cover every subject, and nats-server
 * refuses a second consumer with an overlapping filter on a work queue, so the copy is looked
 * for with STREAM.MSG.GET and `next_by_subj` (2.9 and later), which reads without consuming.
 * Stream sequences follow store time, so a binary search over sequences finds the first
 * message stored at `since` (about 30 reads for a billion messages); from there the endpoint's
 * messages are read one by one until the task's copy.
 */
export async function findWaitingCopy(
  jsm: JetStreamManager,
  names: HooklineNames,
  query: WaitingCopyQuery,
): Promise<WaitingCopySearch> {
  const stream = names.streams.retry;
  // STREAM.MSG.GET takes next_by_subj; nats.js types it only for direct gets.
  const next = (seq: number, subject: string) =>
    jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as MsgRequest);

  const { first_seq: first, last_seq: last } = (await jsm.streams.info(stream)).state;
  const since = query.since.getTime();
  // The smallest sequence whose next message (any subject) is stored at `since` or later.
  // A stream that never held a message reports first_seq 0; sequences start at 1.
  let low = Math.max(first, 1);
  let high = last + 1;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const message = await next(middle, names.subjects.retryAll);
    if (message === null || message.time.getTime() >= since) high = middle;
    else low = message.seq + 1;
  }

  const subject = names.subjects.retry("*", query.endpointId);
  const maxScanned = query.maxScanned ?? MAX_SCANNED;
  let scanned = 0;
  for (let seq = low; scanned < maxScanned; scanned++) {
    const message = await next(seq, subject);
    if (message === null) return { outcome: "absent" };
    if (message.header.get(Header.taskId) === query.taskId)
      return { outcome: "found", copy: message };
    seq = message.seq + 1;
  }
  return { outcome: "too_many", scanned };
}
