import { type Harness, startHarness } from "./harness";
import type { ScenarioContext, ScenarioGroup, ScenarioResult } from "./scenario";
import { clusterScenarios } from "./scenarios/cluster";
import { crashEnv, crashScenarios } from "./scenarios/crash";
import {
  deadScenarios,
  endpointEnv,
  rateLimitedScenarios,
  slowScenarios,
} from "./scenarios/endpoints";
import { postgresScenarios } from "./scenarios/postgres";

/** Every group of the suite, in run order. */
export function chaosGroups(short: boolean): ScenarioGroup[] {
  const endpointGroup = (id: string, scenarios: ScenarioGroup["scenarios"]): ScenarioGroup => ({
    id,
    harness: {
      prefix: `chaos${id.replaceAll("-", "")}`,
      nats: "single",
      postgres: "shared",
      env: endpointEnv,
    },
    scenarios,
  });
  return [
    {
      id: "crash",
      harness: { prefix: "chaoscrash", nats: "single", postgres: "shared", env: crashEnv },
      scenarios: crashScenarios,
    },
    {
      id: "cluster",
      harness: {
        prefix: "chaoscluster",
        nats: "cluster",
        postgres: "shared",
        env: crashEnv,
        instances: { delivery: 2 },
      },
      scenarios: clusterScenarios,
    },
    {
      id: "postgres",
      harness: { prefix: "chaospg", nats: "single", postgres: "own", env: crashEnv },
      scenarios: postgresScenarios(short),
    },
    endpointGroup("slow", slowScenarios),
    endpointGroup("dead", deadScenarios),
    endpointGroup("rate", rateLimitedScenarios),
  ];
}

export interface RunOptions extends ScenarioContext {
  /** Scenario ids to run; all when empty. */
  only?: string[];
  /** Groups to run; chaosGroups() by default. */
  groups?: ScenarioGroup[];
  /** The run is abandoned (remaining scenarios reported as not run) past this time. */
  deadline?: number;
  /** Called once per harness, so that a watchdog can stop it. */
  onHarness?: (harness: Harness | undefined) => void;
}

/** Runs the chosen scenarios group by group, each group on a fresh harness. */
export async function runChaos(opts: RunOptions): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const wanted = (id: string) => !opts.only?.length || opts.only.includes(id);
  for (const group of opts.groups ?? chaosGroups(opts.short)) {
    const scenarios = group.scenarios.filter((s) => wanted(s.id));
    if (scenarios.length === 0) continue;
    const notRun = (id: string, title: string, error: string): ScenarioResult => ({
      id,
      title,
      accounting: undefined,
      load: undefined,
      duplicateBound: undefined,
      figures: [],
      checks: [],
      error,
      durationMs: 0,
    });
    if (opts.deadline !== undefined && Date.now() > opts.deadline) {
      for (const s of scenarios) results.push(notRun(s.id, s.title, "not run: time is up"));
      continue;
    }
    opts.log(`group ${group.id}: starting its stack`);
    let harness: Harness;
    try {
      harness = await startHarness({ ...group.harness, log: opts.log });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      opts.log(`group ${group.id}: stack failed to start: ${message}`);
      for (const s of scenarios) results.push(notRun(s.id, s.title, `stack failed: ${message}`));
      continue;
    }
    opts.onHarness?.(harness);
    try {
      for (const scenario of scenarios) {
        if (opts.deadline !== undefined && Date.now() > opts.deadline) {
          results.push(notRun(scenario.id, scenario.title, "not run: time is up"));
          continue;
        }
        opts.log(`scenario ${scenario.id}: ${scenario.title}`);
        const started = Date.now();
        try {
          const outcome = await scenario.run(harness, opts);
          const result: ScenarioResult = {
            id: scenario.id,
            title: scenario.title,
            ...outcome,
            error: undefined,
            durationMs: Date.now() - started,
          };
          results.push(result);
          opts.log(`scenario ${scenario.id}: ${summarizeResult(result)}`);
        } catch (err) {
          const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
          opts.log(`scenario ${scenario.id} failed to run: ${message}`);
          results.push({ ...notRun(scenario.id, scenario.title, message), durationMs: 0 });
        }
      }
    } finally {
      opts.onHarness?.(undefined);
      await harness.stop();
    }
  }
  return results;
}

export function passed(result: ScenarioResult): boolean {
  return result.error === undefined && result.checks.every((c) => c.ok);
}

export function summarizeResult(result: ScenarioResult): string {
  if (result.error !== undefined) return `ERROR ${result.error.split("\n")[0]}`;
  const a = result.accounting;
  const counts = a
    ? `accepted ${a.accepted}, delivered ${a.delivered}, dead-lettered ${a.deadLettered}, ` +
      `lost ${a.lost}, duplicates ${a.duplicates}`
    : "";
  const failed = result.checks.filter((c) => !c.ok).map((c) => c.label);
  const figures = result.figures.map(([k, v]) => `${k} ${v}`).join("; ");
  return `${passed(result) ? "PASS" : "FAIL"} ${counts}${figures ? ` | ${figures}` : ""}${
    failed.length > 0 ? ` | failed: ${failed.join("; ")}` : ""
  }`;
}
