import { pollUntil } from "@hookline/testkit";
import type { Accounting } from "./accounting";
import type { Harness, HarnessOptions } from "./harness";
import type { LoadCounters } from "./load";

export interface ScenarioContext {
  /** The CI form: fewer events, shorter waits. */
  short: boolean;
  log: (line: string) => void;
}

export interface Check {
  label: string;
  ok: boolean;
}

/** What the load did, for the report. */
export interface LoadSummary {
  sent: number;
  accepted: number;
  unavailable: number;
  networkErrors: number;
  resentEvents: number;
  rejected: number;
  gaveUp: number;
  noTasks: number;
  /** Latency of the POSTs answered 202 (ms). */
  postP50: number;
  postP99: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  accounting: Accounting | undefined;
  load: LoadSummary | undefined;
  /** The duplicates allowed: what was in flight when the failure hit (undefined: no bound). */
  duplicateBound: number | undefined;
  /** Scenario-specific measurements, in report order. */
  figures: [string, string][];
  checks: Check[];
  /** Set when the scenario itself failed to run. */
  error: string | undefined;
  durationMs: number;
}

export type ScenarioOutcome = Omit<ScenarioResult, "id" | "title" | "error" | "durationMs">;

export interface Scenario {
  id: string;
  title: string;
  run(harness: Harness, ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

/** Scenarios that share one harness, run one after the other. */
export interface ScenarioGroup {
  id: string;
  harness: Omit<HarnessOptions, "log">;
  scenarios: Scenario[];
}

export function summarizeLoad(counters: LoadCounters, sent: number): LoadSummary {
  const post = [...counters.postMs].sort((a, b) => a - b);
  return {
    postP50: percentile(post, 50),
    postP99: percentile(post, 99),
    sent,
    accepted: counters.accepted.size,
    unavailable: counters.unavailable,
    networkErrors: counters.networkErrors,
    resentEvents: counters.resentEvents,
    rejected: counters.rejected.length,
    gaveUp: counters.gaveUp.length,
    noTasks: counters.noTasks.length,
  };
}

/** The checks every scenario makes on its load and accounting. */
export function standardChecks(
  load: LoadSummary,
  accounting: Accounting,
  unverified: number,
): Check[] {
  return [
    {
      label: `every event accepted (gave up ${load.gaveUp}, rejected ${load.rejected})`,
      ok: load.accepted === load.sent,
    },
    { label: "every accepted event fanned out to its endpoint", ok: load.noTasks === 0 },
    {
      label: `settled: every accepted id delivered or dead-lettered (${accounting.lost} lost)`,
      ok: accounting.lost === 0 && accounting.settled,
    },
    { label: "0 lost", ok: accounting.lost === 0 },
    { label: `every request verified (${unverified} unverified)`, ok: unverified === 0 },
  ];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

export function seconds(value: number): string {
  return Number.isFinite(value) ? `${(value / 1000).toFixed(1)} s` : "n/a";
}

/** Resolves once `condition` holds (polled every 20 ms), or rejects after `timeoutMs`. */
export function whenTrue(condition: () => boolean, timeoutMs: number, what: string) {
  return pollUntil(async () => condition(), { timeoutMs, intervalMs: 20, what });
}

/**
 * Posts events of `eventType` until ingest fans one out to an endpoint (its KV watch has seen
 * the endpoint): a load started before that would be accepted with no task at all.
 */
export async function awaitFanOut(harness: Harness, eventType: string): Promise<void> {
  let n = 0;
  await pollUntil(
    async () => {
      const res = await fetch(`${harness.ingestUrl}/v1/events`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${harness.ingestToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ id: `warmup-${eventType}-${n++}`, eventType, payload: {} }),
      });
      if (res.status !== 202) return false;
      const answer = (await res.json()) as { tasks: number };
      return answer.tasks > 0;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: `ingest to fan out ${eventType}` },
  );
}
