// docs/benchmarks.md from one run's results: the figures, their ratios to the direct relay
// measured in the same run, and the targets of issue 9 with what was met.
import type { HeldRetriesResult } from "./held-retries";
import type { StartupFigures } from "./hookline";
import type { LoadResult } from "./measure";

export interface RegistryFigures {
  endpoints: number;
  startup: StartupFigures;
  single: LoadResult;
}

export interface BenchResults {
  date: string;
  commit: string;
  machine: string;
  node: string;
  natsServer: string;
  smoke: boolean;
  processes: string;
  loads: LoadResult[];
  heldRetries?: HeldRetriesResult;
  /** The single-event runs with the attempt log on: rows they logged, once caught up. */
  attemptLog?: { expected: number; counted: number; catchUpMs: number };
  registry: RegistryFigures[];
  targets: Target[];
}

export interface Target {
  what: string;
  goal: string;
  measured: string;
  met: boolean;
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : "–");

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

function find(results: BenchResults, name: string): LoadResult | undefined {
  return results.loads.find((load) => load.name === name);
}

/** The issue's targets, each checked against this run's figures. */
export function targetsOf(results: Omit<BenchResults, "targets">): Target[] {
  const r = results as BenchResults;
  const relay = find(r, "relay single");
  const single = find(r, "single events");
  const batch = find(r, "batches of 100");
  const paced = find(r, "paced 1,000/s");
  const healthy = find(r, "100 endpoints, all healthy");
  const failing = find(r, "100 endpoints, 10 failing");
  const targets: Target[] = [];
  if (relay && single) {
    const ratio = single.deliveredPerSecond / relay.deliveredPerSecond;
    targets.push({
      what: "single events",
      goal: "delivered/s ≥ 0.5 × the relay's",
      measured: `${f2(ratio)} × (${f0(single.deliveredPerSecond)} vs ${f0(relay.deliveredPerSecond)}/s)`,
      met: ratio >= 0.5,
    });
  }
  const logOn = r.loads.filter(
    (load) =>
      load.name === "single events" || load.name.startsWith("single events, attempt log on"),
  );
  const logOff = r.loads.filter((load) => load.name.startsWith("single events, attempt log off"));
  if (logOn.length > 0 && logOff.length > 0) {
    const rates = (loads: LoadResult[]) => loads.map((load) => load.deliveredPerSecond);
    const on = median(rates(logOn));
    const off = median(rates(logOff));
    const ratio = on / off;
    const log = r.attemptLog;
    const counted = log !== undefined && log.counted === log.expected;
    const runs = (loads: LoadResult[]) => rates(loads).map(f0).join(", ");
    targets.push({
      what: "single events, attempt log on (issue 11)",
      goal: "median delivered/s ≥ 0.9 × the runs with the log off, and one row per delivery",
      measured:
        `${f2(ratio)} × (median ${f0(on)} vs ${f0(off)}/s; on ${runs(logOn)}, off ${runs(logOff)}); ` +
        `${f0(log?.counted ?? Number.NaN)} rows for ${f0(log?.expected ?? Number.NaN)} deliveries, ` +
        `caught up at most ${f1((log?.catchUpMs ?? Number.NaN) / 1_000)} s after a run`,
      met: ratio >= 0.9 && counted,
    });
  }
  if (relay && batch) {
    const ratio = batch.deliveredPerSecond / relay.deliveredPerSecond;
    targets.push({
      what: "batches of 100",
      goal: "delivered/s ≥ 1.0 × the relay's single-event rate",
      measured: `${f2(ratio)} × (${f0(batch.deliveredPerSecond)}/s)`,
      met: ratio >= 1,
    });
  }
  if (paced) {
    targets.push({
      what: "paced 1,000/s",
      goal: "p99 ≤ 10 ms and the box under 100 % (of 200 %)",
      measured: `p99 ${f1(paced.latency.p99)} ms, box ${f0(paced.boxCpuPercent)} %`,
      met: paced.latency.p99 <= 10 && paced.boxCpuPercent < 100,
    });
  }
  const lossy = r.loads.filter((load) => load.lost > 0 || load.duplicates > 0);
  const held = r.heldRetries;
  const heldLossy = held !== undefined && (held.lost > 0 || held.duplicates > 0);
  targets.push({
    what: "every scenario",
    goal: "0 lost, 0 duplicates",
    measured:
      lossy.length === 0 && !heldLossy
        ? "0 and 0"
        : [
            ...lossy.map((l) => `${l.name}: ${l.lost} lost, ${l.duplicates} duplicates`),
            ...(heldLossy
              ? [`held retries: ${held.lost} lost, ${held.duplicates} duplicates`]
              : []),
          ].join("; "),
    met: lossy.length === 0 && !heldLossy,
  });
  if (held) {
    const growth = Object.entries(held.rssMb.peak).map(
      ([name, mb]) => [name, mb - (held.rssMb.before[name] ?? 0)] as const,
    );
    const services = growth.filter(([name]) => name !== "nats-server");
    const worst = services.reduce((a, b) => (b[1] > a[1] ? b : a), ["–", -Infinity] as const);
    targets.push({
      what: `${f0(held.count)} held retries`,
      goal: "no service's RSS grows by more than 50 MB",
      measured: `largest growth ${worst[0]} +${f0(worst[1])} MB`,
      met: worst[1] <= 50,
    });
  }
  if (healthy && failing) {
    const ratio = failing.latency.p99 / healthy.latency.p99;
    targets.push({
      what: "10 % failing endpoints",
      goal: "healthy endpoints' p99 within +20 % of the all-healthy run",
      measured: `${f1(failing.latency.p99)} vs ${f1(healthy.latency.p99)} ms (${f2(ratio)} ×)`,
      met: ratio <= 1.2,
    });
  }
  const small = r.registry.find((x) => x.endpoints < 1_000);
  const large = r.registry.find((x) => x.endpoints >= 1_000);
  if (small && large) {
    const slowest = Math.max(...Object.values(large.startup.readyMs));
    const rssGrowth = Math.max(
      ...Object.entries(large.startup.rssMb).map(
        ([name, mb]) => mb - (small.startup.rssMb[name as keyof typeof small.startup.rssMb] ?? 0),
      ),
    );
    const ratio = large.single.deliveredPerSecond / small.single.deliveredPerSecond;
    targets.push({
      what: `${f0(large.endpoints)} endpoints`,
      goal: "ready ≤ 10 s, RSS ≤ +150 MB, single events within 10 %",
      measured: `slowest ready ${f1(slowest / 1_000)} s, RSS +${f0(rssGrowth)} MB, ${f2(ratio)} ×`,
      met: slowest <= 10_000 && rssGrowth <= 150 && ratio >= 0.9,
    });
  }
  return targets;
}

/** Below this line docs/benchmarks.md is written by hand (profiles, what was done); kept. */
export const ANALYSIS_MARKER = "<!-- written by hand below this line; pnpm bench keeps it -->";

export function keptAnalysis(previous: string): string {
  const at = previous.indexOf(ANALYSIS_MARKER);
  return at < 0 ? "" : previous.slice(at + ANALYSIS_MARKER.length).trim();
}

function deadLettersOf(l: LoadResult): string {
  if (l.deadLettered === 0) return "0";
  const reasons = Object.entries(l.deadLetterReasons).map(([reason, n]) => `${reason} ${n}`);
  return `${l.deadLettered} (${reasons.join(", ")})`;
}

export function renderMarkdown(r: BenchResults, analysis = ""): string {
  const relay = find(r, "relay single");
  const relayPaced = find(r, "relay paced 1,000/s");
  const lines: string[] = [];
  lines.push("# Benchmarks");
  lines.push("");
  lines.push(
    "Written by `pnpm bench` (scripts/bench.ts); the same figures are in `docs/benchmarks.json`. " +
      "Everything runs on one machine over 127.0.0.1: nats-server, Postgres, the four built " +
      "services (`node dist/main.js`, one process each), a receiver and a load generator, each its " +
      "own process. The direct relay (a Hono handler forwarding to the same receiver with undici, " +
      "no queue) runs in the same run, so ratios compare like with like on a shared machine.",
  );
  lines.push("");
  lines.push(`- date: ${r.date}`);
  lines.push(`- commit: ${r.commit}`);
  lines.push(`- machine: ${r.machine}`);
  lines.push(`- Node ${r.node}, ${r.natsServer}`);
  lines.push(`- processes: ${r.processes}`);
  if (r.smoke) lines.push("- **smoke run**: a few seconds per scenario, figures not meaningful");
  lines.push("");
  lines.push("## Targets");
  lines.push("");
  lines.push("| target | goal | measured | met |");
  lines.push("|---|---|---|---|");
  for (const t of r.targets) {
    lines.push(`| ${t.what} | ${t.goal} | ${t.measured} | ${t.met ? "yes" : "**no**"} |`);
  }
  lines.push("");
  lines.push("## Throughput and latency");
  lines.push("");
  lines.push(
    "Latency runs from the load generator's send (for paced runs, the moment the event was due) " +
      "to the receiver, so it includes ingest's own answer. Delivered/s counts distinct ids over " +
      "the time from the first send to the last delivery.",
  );
  lines.push("");
  lines.push(
    "| scenario | system | load | accepted/s | delivered/s | × relay | p50 / p95 / p99 ms | POST p99 ms | box CPU % | dead-lettered | lost | dup |",
  );
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const l of r.loads) {
    const reference = l.mode.startsWith("paced") ? relayPaced : relay;
    const ratio =
      reference && !l.mode.startsWith("paced")
        ? f2(l.deliveredPerSecond / reference.deliveredPerSecond)
        : reference
          ? `p99 ${f1(l.latency.p99 / reference.latency.p99)} ×`
          : "–";
    lines.push(
      `| ${l.name} | ${l.system} | ${l.mode} | ${f0(l.acceptedPerSecond)} | ${f0(l.deliveredPerSecond)} | ${ratio} | ${f1(l.latency.p50)} / ${f1(l.latency.p95)} / ${f1(l.latency.p99)} | ${f1(l.response.p99)} | ${f0(l.boxCpuPercent)} | ${deadLettersOf(l)} | ${l.lost} | ${l.duplicates} |`,
    );
  }
  lines.push("");
  lines.push("## CPU per delivered event (ms)");
  lines.push("");
  const processes = [...new Set(r.loads.flatMap((l) => Object.keys(l.cpuMsPerEvent)))];
  lines.push(`| scenario | ${processes.join(" | ")} | all |`);
  lines.push(`|---|${processes.map(() => "---").join("|")}|---|`);
  for (const l of r.loads) {
    const all = Object.values(l.cpuMsPerEvent).reduce((a, b) => a + b, 0);
    lines.push(
      `| ${l.name} | ${processes.map((p) => (p in l.cpuMsPerEvent ? f3(l.cpuMsPerEvent[p] ?? Number.NaN) : "")).join(" | ")} | ${f3(all)} |`,
    );
  }
  const held = r.heldRetries;
  if (held) {
    lines.push("");
    lines.push(`## ${f0(held.count)} delayed retries held in a tier`);
    lines.push("");
    lines.push(
      `Written straight into the \`${held.tier}\` tier as the classifier writes them (over ${held.endpoints} endpoints, ${f1(held.writeSeconds)} s), all due at one moment, then released by the classifier and delivered. ` +
        `Released at ${f0(held.releasedPerSecond)}/s; delivered at ${f0(held.deliveredPerSecond)}/s; ${held.delivered} delivered, ${held.lost} lost, ${held.duplicates} duplicates.`,
    );
    lines.push("");
    lines.push("| RSS MB | before | held | peak while released | after |");
    lines.push("|---|---|---|---|---|");
    for (const name of Object.keys(held.rssMb.before)) {
      lines.push(
        `| ${name} | ${f0(held.rssMb.before[name] ?? Number.NaN)} | ${f0(held.rssMb.held[name] ?? Number.NaN)} | ${f0(held.rssMb.peak[name] ?? Number.NaN)} | ${f0(held.rssMb.after[name] ?? Number.NaN)} |`,
      );
    }
    lines.push(
      `| nats-server storage | ${f0(held.storageMb.before)} | ${f0(held.storageMb.held)} | | ${f0(held.storageMb.after)} |`,
    );
    lines.push("");
    lines.push(
      `CPU ms per delivered retry, from due to the last delivery: ${Object.entries(
        held.cpuMsPerEvent,
      )
        .map(([name, ms]) => `${name} ${f3(ms)}`)
        .join(", ")}; the box at ${f0(held.boxCpuPercent)} %.`,
    );
  }
  if (r.registry.length > 0) {
    lines.push("");
    lines.push("## Cost of the registry");
    lines.push("");
    lines.push(
      "All services restarted at once with the registry in place: time from spawn to `/readyz` 200, RSS when ready, then the single-event scenario against one endpoint.",
    );
    lines.push("");
    lines.push(
      "| endpoints | ready ms (ingest / delivery / classifier / dlq) | RSS MB (same order) | single events delivered/s |",
    );
    lines.push("|---|---|---|---|");
    for (const g of r.registry) {
      const s = g.startup;
      lines.push(
        `| ${f0(g.endpoints)} | ${f0(s.readyMs.ingest)} / ${f0(s.readyMs.delivery)} / ${f0(s.readyMs.classifier)} / ${f0(s.readyMs.dlq)} | ${f0(s.rssMb.ingest)} / ${f0(s.rssMb.delivery)} / ${f0(s.rssMb.classifier)} / ${f0(s.rssMb.dlq)} | ${f0(g.single.deliveredPerSecond)} |`,
      );
    }
  }
  lines.push("");
  lines.push(ANALYSIS_MARKER);
  lines.push("");
  if (analysis) lines.push(analysis, "");
  return lines.join("\n");
}
