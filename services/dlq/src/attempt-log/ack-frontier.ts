/**
 * What the attempt log may ack. `dlq-attempts` acks all (AckPolicy.All): acking stream sequence
 * N acks every record ≤ N, whoever it was delivered to. So the log acks N only once it has done
 * (written, or skipped as unreadable or expired) every record from the consumer's ack floor up
 * to N itself. A record it does not have (held by an instance that lost the writer lock, given
 * back and not delivered again yet) stops the frontier there until it comes; the consumer has
 * no filter, so every stream sequence above the floor is one of its records or a deleted one.
 */
export interface AckFrontier<T> {
  /** Every record up to this stream sequence is done (or gone). */
  readonly through: number;
  /** Records done past a missing one, waiting for it. */
  readonly waiting: number;
  /** A record was done. */
  done(seq: number, item: T): void;
  /**
   * The done record with the highest sequence ≤ `through` since the last take, to ack (it acks
   * everything before it); undefined when nothing new may be acked.
   */
  take(): T | undefined;
  /**
   * Every record up to `seq` is done elsewhere or gone: the consumer's ack floor moved past it
   * (acked by an earlier writer, a purge), or the stream no longer holds it.
   */
  skipTo(seq: number): void;
  /** The records waiting (to keep them from being delivered again, or to give them back). */
  waitingItems(): IterableIterator<T>;
  /** Forgets the waiting records (given back). */
  clearWaiting(): void;
}

export function createAckFrontier<T>(floor: number): AckFrontier<T> {
  let through = floor;
  let next: T | undefined;
  let nextSeq = Number.NEGATIVE_INFINITY;
  /** Done records past `through + 1`, by sequence. */
  const ahead = new Map<number, T>();

  const offer = (seq: number, item: T) => {
    if (next === undefined || seq >= nextSeq) {
      next = item;
      nextSeq = seq;
    }
  };
  const advance = () => {
    for (let item = ahead.get(through + 1); item !== undefined; item = ahead.get(through + 1)) {
      ahead.delete(through + 1);
      through++;
      offer(through, item);
    }
  };

  return {
    get through() {
      return through;
    },
    get waiting() {
      return ahead.size;
    },
    done(seq, item) {
      if (seq === through + 1) {
        through = seq;
        offer(seq, item);
        if (ahead.size > 0) advance();
      } else if (seq > through) {
        ahead.set(seq, item);
      } else {
        // Delivered again after it was done: acking it is safe, and ends its redeliveries if
        // the ack that covered it was not applied.
        offer(seq, item);
      }
    },
    take() {
      const item = next;
      next = undefined;
      nextSeq = Number.NEGATIVE_INFINITY;
      return item;
    },
    skipTo(seq) {
      if (seq <= through) return;
      through = seq;
      for (const key of ahead.keys()) if (key <= seq) ahead.delete(key);
      advance();
    },
    waitingItems: () => ahead.values(),
    clearWaiting: () => ahead.clear(),
  };
}
