import { Pool } from "undici";

/** One event the load sends: an explicit id (so a resend is deduplicated) and its type. */
export interface LoadEvent {
  id: string;
  eventType: string;
  payload: unknown;
}

export interface LoadCounters {
  /** Ids ingest answered 202 for (a 202 with `duplicate: true` included: it was stored). */
  accepted: Set<string>;
  /** When each 202 arrived (ms since the epoch). */
  acceptedAt: number[];
  /** How long each POST answered 202 took (ms). */
  postMs: number[];
  /** Accepted ids that fanned out to no endpoint (`tasks: 0`): a set-up error, never delivered. */
  noTasks: string[];
  /** 503 answers received, each followed by a resend of the same ids. */
  unavailable: number;
  /** When each 503 arrived (ms since the epoch), for comparing with an election window. */
  unavailableAt: number[];
  /** 503s by ingest's reason (the problem's detail up to its first ";"). */
  unavailableWhy: Record<string, number>;
  /** Connection errors and timeouts, each followed by a resend. */
  networkErrors: number;
  /** Events (not requests) sent more than once. */
  resentEvents: number;
  /** Other answers (4xx): not stored, not resent. */
  rejected: { id: string; status: number; body: string }[];
  /** Ids still not accepted when their give-up time passed. */
  gaveUp: string[];
}

export interface IngestTarget {
  url: string;
  token: string;
}

export interface SteadyLoadOptions {
  target: IngestTarget;
  /** Events in all, sent one POST each. */
  count: number;
  perSecond: number;
  /** The n-th event (0-based). */
  event: (n: number) => LoadEvent;
  /** Requests open at once; the schedule slips behind when they are all busy. Default 64. */
  concurrency?: number;
  /** How long one event is resent before it counts as given up; default 90 s. */
  giveUpMs?: number;
}

export interface LoadRun {
  counters: LoadCounters;
  /** Events whose first POST has started. */
  started(): number;
  /** POSTs open right now. */
  open(): number;
  /** Resolves when every event is accepted, rejected or given up. */
  done: Promise<void>;
  startedAt: number;
  /** Set when done resolves. */
  endedAt: number | undefined;
}

export function newCounters(): LoadCounters {
  return {
    accepted: new Set(),
    acceptedAt: [],
    postMs: [],
    noTasks: [],
    unavailable: 0,
    unavailableAt: [],
    unavailableWhy: {},
    networkErrors: 0,
    resentEvents: 0,
    rejected: [],
    gaveUp: [],
  };
}

function reasonOf(problem: string): string {
  try {
    const detail = (JSON.parse(problem) as { detail?: unknown }).detail;
    return typeof detail === "string" ? (detail.split(";")[0] ?? detail) : "no detail";
  } catch {
    return "not a problem document";
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A POST client for ingest that resends on 503 and on connection errors until it is stored. */
export class IngestLoader {
  readonly #pool: Pool;
  readonly #headers: Record<string, string>;
  #open = 0;

  constructor(target: IngestTarget, connections = 64) {
    this.#pool = new Pool(target.url, {
      connections,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
      connectTimeout: 2_000,
    });
    this.#headers = {
      authorization: `Bearer ${target.token}`,
      "content-type": "application/json",
    };
  }

  get open(): number {
    return this.#open;
  }

  /**
   * Sends `events` (one POST, or one batch POST when there are several) until ingest answers
   * 202, resending the same ids after a 503 (waiting its Retry-After, at most 1 s) or a
   * connection error (250 ms). Returns false when it gave up.
   */
  async send(events: LoadEvent[], counters: LoadCounters, giveUpMs: number): Promise<boolean> {
    const giveUpAt = Date.now() + giveUpMs;
    const single = events.length === 1;
    const body = JSON.stringify(single ? events[0] : { events });
    for (let attempt = 1; ; attempt++) {
      if (attempt === 2) counters.resentEvents += events.length;
      let waitMs = 250;
      this.#open++;
      const sentAt = Date.now();
      try {
        const res = await this.#pool.request({
          method: "POST",
          path: single ? "/v1/events" : "/v1/events/batch",
          headers: this.#headers,
          body,
        });
        const text = await res.body.text();
        if (res.statusCode === 202) {
          const now = Date.now();
          counters.postMs.push(now - sentAt);
          const answer = JSON.parse(text) as { tasks?: number; results?: { tasks: number }[] };
          const tasks = answer.results?.map((r) => r.tasks) ?? [answer.tasks ?? 0];
          for (const [i, event] of events.entries()) {
            counters.accepted.add(event.id);
            counters.acceptedAt.push(now);
            if (tasks[i] === 0) counters.noTasks.push(event.id);
          }
          return true;
        }
        if (res.statusCode === 503) {
          counters.unavailable++;
          counters.unavailableAt.push(Date.now());
          const why = reasonOf(text);
          counters.unavailableWhy[why] = (counters.unavailableWhy[why] ?? 0) + 1;
          const retryAfter = Number(res.headers["retry-after"]);
          waitMs = Number.isFinite(retryAfter) ? Math.min(1_000, retryAfter * 1_000) : 500;
        } else {
          for (const event of events) {
            counters.rejected.push({ id: event.id, status: res.statusCode, body: text });
          }
          return false;
        }
      } catch {
        counters.networkErrors++;
      } finally {
        this.#open--;
      }
      if (Date.now() + waitMs > giveUpAt) {
        for (const event of events) counters.gaveUp.push(event.id);
        return false;
      }
      await sleep(waitMs);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * Open-loop load: event n is due at start + n / perSecond, and each is sent (and resent) until
 * stored. At most `concurrency` events are in progress; beyond that the schedule slips.
 */
export function steadyLoad(loader: IngestLoader, opts: SteadyLoadOptions): LoadRun {
  const counters = newCounters();
  const concurrency = opts.concurrency ?? 64;
  const giveUpMs = opts.giveUpMs ?? 90_000;
  const startedAt = Date.now();
  let started = 0;
  let active = 0;
  let wake: (() => void) | undefined;
  const send = async (): Promise<number> => {
    const inProgress = new Set<Promise<unknown>>();
    for (let n = 0; n < opts.count; n++) {
      const due = startedAt + (n * 1_000) / opts.perSecond;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      while (active >= concurrency) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      active++;
      started++;
      const sending = loader.send([opts.event(n)], counters, giveUpMs).finally(() => {
        active--;
        inProgress.delete(sending);
        wake?.();
        wake = undefined;
      });
      inProgress.add(sending);
    }
    await Promise.all(inProgress);
    return Date.now();
  };
  const run: LoadRun = {
    counters,
    started: () => started,
    open: () => loader.open,
    startedAt,
    endedAt: undefined,
    done: send().then((endedAt) => {
      run.endedAt = endedAt;
    }),
  };
  return run;
}

/** Sends `events` as batch POSTs of `batchSize`, `parallel` at a time, resending as above. */
export async function bulkLoad(
  loader: IngestLoader,
  events: LoadEvent[],
  opts: { batchSize?: number; parallel?: number; giveUpMs?: number } = {},
): Promise<LoadCounters> {
  const counters = newCounters();
  const batchSize = opts.batchSize ?? 250;
  const batches: LoadEvent[][] = [];
  for (let i = 0; i < events.length; i += batchSize) batches.push(events.slice(i, i + batchSize));
  let next = 0;
  const worker = async () => {
    for (let batch = batches[next++]; batch !== undefined; batch = batches[next++]) {
      await loader.send(batch, counters, opts.giveUpMs ?? 90_000);
    }
  };
  await Promise.all(Array.from({ length: opts.parallel ?? 2 }, worker));
  return counters;
}
