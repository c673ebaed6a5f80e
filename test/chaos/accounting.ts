import type { Harness } from "./harness";

/** Where every accepted event ended up, counted exactly. */
export interface Accounting {
  /** Ids ingest answered 202 for. */
  accepted: number;
  /** Accepted ids the receiver answered 2xx at least once. */
  delivered: number;
  /** Accepted ids not delivered but found in the dlq (GET /v1/dead-letters). */
  deadLettered: number;
  /** accepted − delivered − deadLettered: never delivered and never dead-lettered. */
  lost: number;
  /** The first lost ids, for the report. */
  lostSample: string[];
  /** 2xx answers beyond the first per webhook-id (this scenario's ids, its paths). */
  duplicates: number;
  /** Ids delivered more than once. */
  duplicatedIds: number;
  /** Ids delivered (or dead-lettered) that ingest never answered 202 for. */
  unaccepted: number;
  /** Dead letters of accepted ids by reason. */
  deadLetterReasons: Record<string, number>;
  /** Every accepted id accounted for before the timeout. */
  settled: boolean;
  /** From `since` until every accepted id was delivered or dead-lettered (or the timeout). */
  settledMs: number;
  /** From `since` until no consumer had anything pending or unacknowledged (or the timeout). */
  quietMs: number;
}

export interface AccountOptions {
  harness: Harness;
  accepted: ReadonlySet<string>;
  /** Only ids starting with this count (duplicates, unaccepted). */
  idPrefix: string;
  /** Receiver paths of this scenario. */
  paths: string[];
  /** Event types whose dead letters are looked up. */
  deadLetterTypes: string[];
  /** When the load started: settledMs and quietMs are measured from here. */
  since: number;
  /** How long to wait for every accepted id to be accounted for. */
  timeoutMs: number;
  /**
   * After settling, how long to wait for the consumers to go quiet (nothing pending, nothing
   * unacknowledged), so that late redeliveries are counted as duplicates. Default 60 s.
   */
  quietTimeoutMs?: number;
  log?: (line: string) => void;
}

interface Letter {
  eventId: string | null;
  reason: string;
}

/** Every dead letter of the given event types, paged through the dlq's list API. */
export async function deadLetters(harness: Harness, eventTypes: string[]): Promise<Letter[]> {
  const letters: Letter[] = [];
  for (const eventType of eventTypes) {
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ eventType, limit: "200" });
      if (cursor !== null) query.set("cursor", cursor);
      const res = await fetch(`${harness.dlqUrl}/v1/dead-letters?${query}`, {
        headers: { authorization: `Bearer ${harness.opsToken}` },
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status !== 200) throw new Error(`dlq list: ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { data: Letter[]; nextCursor: string | null };
      letters.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor !== null);
  }
  return letters;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Waits until every accepted id is delivered (the receiver answered 2xx) or dead-lettered (the
 * dlq lists it), then until the system is quiet, and counts lost and duplicated ids.
 */
export async function account(opts: AccountOptions): Promise<Accounting> {
  const { harness, accepted } = opts;
  const okAt = () => {
    const counts = new Map<string, number>();
    for (const path of opts.paths) {
      for (const [id, n] of harness.receiver.okCounts(path)) {
        if (id.startsWith(opts.idPrefix)) counts.set(id, (counts.get(id) ?? 0) + n);
      }
    }
    return counts;
  };

  let letters = new Map<string, string>();
  let lastDlqError = "";
  const readLetters = async () => {
    try {
      const found = await deadLetters(harness, opts.deadLetterTypes);
      letters = new Map(
        found.flatMap((l) => (l.eventId?.startsWith(opts.idPrefix) ? [[l.eventId, l.reason]] : [])),
      );
      lastDlqError = "";
    } catch (err) {
      lastDlqError = err instanceof Error ? err.message : String(err);
    }
  };
  const missing = (ok: Map<string, number>) => {
    const out: string[] = [];
    for (const id of accepted) if (!ok.has(id) && !letters.has(id)) out.push(id);
    return out;
  };

  // 1. Every accepted id delivered or dead-lettered.
  const settleBy = Date.now() + opts.timeoutMs;
  let settled = false;
  let lastDlqRead = 0;
  let lastLog = Date.now();
  for (;;) {
    let left = missing(okAt());
    if (left.length > 0 && opts.deadLetterTypes.length > 0 && Date.now() - lastDlqRead > 2_000) {
      await readLetters();
      lastDlqRead = Date.now();
      left = missing(okAt());
    }
    if (left.length === 0) {
      settled = true;
      break;
    }
    if (Date.now() >= settleBy) break;
    if (Date.now() - lastLog > 15_000) {
      lastLog = Date.now();
      opts.log?.(
        `  waiting for ${left.length} of ${accepted.size} accepted ids` +
          (lastDlqError ? ` (dlq: ${lastDlqError})` : ""),
      );
    }
    await sleep(500);
  }
  const settledMs = Date.now() - opts.since;

  // 2. Quiet: late redeliveries (after an ack wait) would be duplicates, so wait for them.
  const quietBy = Date.now() + (opts.quietTimeoutMs ?? 60_000);
  let quietPolls = 0;
  while (Date.now() < quietBy && quietPolls < 2) {
    try {
      const { pending, ackPending } = await harness.backlog();
      quietPolls =
        pending === 0 && ackPending === 0 && harness.receiver.inFlight() === 0 ? quietPolls + 1 : 0;
    } catch {
      quietPolls = 0;
    }
    if (quietPolls < 2) await sleep(1_000);
  }
  const quietMs = Date.now() - opts.since;
  if (opts.deadLetterTypes.length > 0) await readLetters();

  // 3. Count.
  const ok = okAt();
  let delivered = 0;
  let deadLettered = 0;
  const reasons: Record<string, number> = {};
  const lost: string[] = [];
  for (const id of accepted) {
    if (ok.has(id)) delivered++;
    else if (letters.has(id)) deadLettered++;
    else lost.push(id);
    const reason = letters.get(id);
    if (reason !== undefined) reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  let duplicates = 0;
  let duplicatedIds = 0;
  let unaccepted = 0;
  for (const [id, n] of ok) {
    if (n > 1) {
      duplicates += n - 1;
      duplicatedIds++;
    }
    if (!accepted.has(id)) unaccepted++;
  }
  for (const id of letters.keys()) if (!accepted.has(id) && !ok.has(id)) unaccepted++;
  return {
    accepted: accepted.size,
    delivered,
    deadLettered,
    lost: lost.length,
    lostSample: lost.slice(0, 10),
    duplicates,
    duplicatedIds,
    unaccepted,
    deadLetterReasons: reasons,
    settled,
    settledMs,
    quietMs,
  };
}
