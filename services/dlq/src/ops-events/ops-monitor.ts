import type { OpsEventKind } from "@hookline/contracts";
import type { Logger, OpsEventEmitter } from "@hookline/kit";
import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import type { AttemptWindow } from "./attempt-window";
import { highestCrossing } from "./crossings";
import { createDeadLetterTally } from "./dead-letter-tally";
import { deadLetteredEvent, failureRateEvent, thresholdEvent } from "./ops-events";
import { countOpenLetters } from "./readings";

export interface OpsMonitorOptions {
  db: Kysely<Database>;
  emitter: OpsEventEmitter;
  kinds: ReadonlySet<OpsEventKind>;
  systemTenantId: string;
  /** Names this instance in task.dead_lettered ids: each instance counts its own letters. */
  instance: string;
  /** Dead letters are counted per endpoint and window of this length (a minute). */
  deadLetterWindowMs: number;
  deadLetterThresholds: readonly number[];
  failureRateThresholds: readonly number[];
  /**
   * The attempt log's written rows, counted per endpoint over the window; undefined (no
   * attempt log) means no endpoint.failure_rate.
   */
  attemptWindow: AttemptWindow | undefined;
  failureRateWindowText: string;
  failureRateMinAttempts: number;
  /** How often open letters and failure rates are read. */
  checkIntervalMs: number;
  logger: Logger;
  now?: () => number;
}

export interface OpsMonitor {
  /**
   * The first reading of open letters, the baseline later ones are compared with: main starts
   * storing letters once it is taken, so a storm at start-up still crosses.
   */
  ready: Promise<void>;
  /** `ready`, or OPS_READING_WAIT_MS, whichever comes first: what start-up waits for. */
  readyOrLater(): Promise<void>;
  /** A letter was stored: counted in memory, sent with its window's count. */
  stored(letter: { endpointId: string | null; tenantId: string }): void;
  /** One round: closed windows' counts, open letters, failure rates (tests call it). */
  check(): Promise<void>;
  stop(): Promise<void>;
}

/** How long start-up and shutdown wait for a reading (a frozen database must not hold them). */
export const OPS_READING_WAIT_MS = 5_000;

const settledWithin = (work: Promise<unknown>, ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    work.then(done, done);
  });

/** How often closed windows of dead-letter counts are sent, at most. */
const FLUSH_INTERVAL_MS = 5_000;

/**
 * The dlq's operational events, decided on timers, never per message: dead letters counted per
 * endpoint and window, open letters crossing DEAD_LETTER thresholds upward, and endpoints'
 * failure rates over the window crossing theirs. Open letters' first reading after start is a
 * baseline: a restart does not announce again what was already past a threshold.
 *
 * Failure rates have no baseline: they are summed from memory (attempt-window.ts), which starts
 * empty, and an endpoint is rated once OPS_FAILURE_RATE_MIN_ATTEMPTS of its attempts are
 * counted. So after a restart, or when another instance takes the attempt log's writer lock,
 * an endpoint still failing is announced again, once per threshold it is past, that many
 * attempts later. Deliberately: without reading the past (the scan this replaces) an old
 * failure cannot be told from one that began while no instance counted, and missing a new one
 * is worse than repeating one; within the same minute the event id dedupes the repeat. Only
 * the writer-lock holder reads the records, so its counts are all attempts, not a share;
 * instances standing by count none and announce none.
 */
export function startOpsMonitor(options: OpsMonitorOptions): OpsMonitor {
  const { db, emitter, kinds, systemTenantId, logger } = options;
  const now = options.now ?? Date.now;
  const tally = createDeadLetterTally(options.deadLetterWindowMs);
  let openBefore: number | undefined;
  let ratesBefore = new Map<string, number>();
  let running: Promise<void> | undefined;
  let lastRead = 0;

  /** Sends the counts of windows ended by `until` (all of them at shutdown). */
  const flushCounts = async (until = now()) => {
    const at = now();
    const closed = tally.takeClosed(until);
    const unsent = [];
    for (const count of closed) {
      if (
        !(await emitter.emit(
          deadLetteredEvent(count, options.deadLetterWindowMs, options.instance, at),
        ))
      )
        unsent.push(count);
    }
    tally.putBack(unsent);
  };

  const checkOpenLetters = async () => {
    const open = await countOpenLetters(db, systemTenantId);
    const threshold =
      openBefore === undefined
        ? undefined
        : highestCrossing(options.deadLetterThresholds, openBefore, open);
    if (threshold !== undefined && !(await emitter.emit(thresholdEvent(open, threshold, now())))) {
      return; // not stored: the next reading crosses again
    }
    openBefore = open;
  };

  let uncountedWarned = false;
  const checkFailureRates = async (window: AttemptWindow) => {
    const at = now();
    const { endpoints, uncounted } = window.read(at, options.failureRateMinAttempts);
    if (uncounted > 0 && !uncountedWarned) {
      logger.warn(
        { uncounted, endpoints: window.size },
        "too many endpoints to rate: new ones' attempts are not counted until others go idle",
      );
    }
    uncountedWarned = uncounted > 0;
    const rates = new Map<string, number>();
    for (const endpoint of endpoints) {
      const rate = endpoint.failed / endpoint.attempts;
      let kept = rate;
      const before = ratesBefore.get(endpoint.endpointId) ?? 0;
      const threshold = highestCrossing(options.failureRateThresholds, before, rate);
      if (threshold !== undefined) {
        const event = failureRateEvent(
          endpoint,
          threshold,
          options.failureRateThresholds,
          options.failureRateWindowText,
          at,
        );
        if (!(await emitter.emit(event))) kept = before; // not stored: crosses again next time
      }
      rates.set(endpoint.endpointId, kept);
    }
    ratesBefore = rates;
  };
  const rateWindow = kinds.has("endpoint.failure_rate") ? options.attemptWindow : undefined;

  const check = async () => {
    await flushCounts();
    if (now() - lastRead < options.checkIntervalMs) return;
    lastRead = now();
    if (kinds.has("deadletters.threshold")) await checkOpenLetters();
    if (rateWindow !== undefined) await checkFailureRates(rateWindow);
  };

  const baseline = async () => {
    lastRead = now();
    if (kinds.has("deadletters.threshold")) await checkOpenLetters();
  };
  const ready = baseline().catch((error: unknown) =>
    logger.warn(
      { err: error },
      "operational events' first reading failed; the next is the baseline",
    ),
  );
  running = ready.finally(() => {
    running = undefined;
  });

  const round = () => {
    if (running !== undefined) return;
    running = check()
      .catch((error: unknown) => logger.warn({ err: error }, "operational events' check failed"))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(round, Math.min(FLUSH_INTERVAL_MS, options.deadLetterWindowMs / 2));
  timer.unref();

  return {
    ready,
    readyOrLater: () => settledWithin(ready, OPS_READING_WAIT_MS),
    stored(letter) {
      if (!kinds.has("task.dead_lettered")) return;
      if (letter.endpointId === null || letter.tenantId === systemTenantId) return;
      tally.add(letter.endpointId, letter.tenantId, now());
    },
    check,
    async stop() {
      clearInterval(timer);
      if (running !== undefined) await settledWithin(running, OPS_READING_WAIT_MS);
      // Counts of the window in progress go now rather than never.
      await flushCounts(Number.POSITIVE_INFINITY).catch(() => undefined);
    },
  };
}
