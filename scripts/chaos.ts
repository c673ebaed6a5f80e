// `pnpm chaos`: the chaos suite (test/chaos). Real nats-server, Postgres and the four services as
// separate processes on 127.0.0.1; failures injected under steady load; every accepted event
// accounted for (lost and duplicated ids counted exactly). A full run writes docs/reliability.md.
//
//   pnpm chaos                      every scenario, full size (about 15 minutes on 2 cores)
//   pnpm chaos --short              every scenario, the CI size
//   pnpm chaos --only kill-nats,dead-endpoint
//   pnpm chaos --list               the scenario ids
//
// It stops by itself: after CHAOS_MAX_MINUTES (default 60, or 20 with --short) it stops what it
// started and exits 2. Exit 1 when a check failed.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import type { Harness } from "../test/chaos/harness";
import { reliabilityDoc, resultsTable } from "../test/chaos/report";
import { chaosGroups, passed, runChaos, summarizeResult } from "../test/chaos/suite";

const args = process.argv.slice(2);
const short = args.includes("--short");
const onlyIndex = args.findIndex((a) => a === "--only" || a.startsWith("--only="));
const onlyArg = onlyIndex < 0 ? undefined : args[onlyIndex];
const onlyValue = onlyArg?.includes("=") ? onlyArg.split("=")[1] : args[onlyIndex + 1];
const only = onlyArg === undefined ? undefined : (onlyValue ?? "").split(",").filter(Boolean);
const ids = chaosGroups(short).flatMap((g) => g.scenarios.map((s) => s.id));

if (args.includes("--list")) {
  for (const group of chaosGroups(short)) {
    for (const s of group.scenarios)
      console.log(`${s.id.padEnd(20)} ${group.id.padEnd(8)} ${s.title}`);
  }
  process.exit(0);
}
if (only !== undefined && only.length === 0) {
  console.error(`--only needs scenario ids: --only a,b (known: ${ids.join(", ")})`);
  process.exit(64);
}
const unknown = (only ?? []).filter((id) => !ids.includes(id));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; known: ${ids.join(", ")}`);
  process.exit(64);
}

const startedAt = new Date();
const log = (line: string) => {
  const at = ((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[chaos ${at}s] ${line}\n`);
};

// The watchdog: whatever hangs, the run ends, and what it started is stopped.
const maxMinutes = Number(process.env.CHAOS_MAX_MINUTES ?? (short ? 20 : 60));
let current: Harness | undefined;
const abandon = async (why: string, code: number) => {
  log(`${why}: stopping what was started`);
  const stopping = current?.stop();
  await Promise.race([stopping, new Promise((r) => setTimeout(r, 30_000))]);
  // testkit's exit hook SIGKILLs any process still tracked.
  process.exit(code);
};
const watchdog = setTimeout(() => void abandon(`${maxMinutes} min passed`, 2), maxMinutes * 60_000);
watchdog.unref();
process.once("SIGINT", () => void abandon("SIGINT", 130));
process.once("SIGTERM", () => void abandon("SIGTERM", 143));

const results = await runChaos({
  short,
  only,
  log,
  // Leave time to stop the last stack before the watchdog fires.
  deadline: startedAt.getTime() + Math.max(1, maxMinutes - 5) * 60_000,
  onHarness: (harness) => {
    current = harness;
  },
});
clearTimeout(watchdog);

const info = { startedAt, durationMs: Date.now() - startedAt.getTime(), short };
console.log(resultsTable(results));
for (const r of results) if (!passed(r)) console.log(`\n${r.id}: ${summarizeResult(r)}`);
const full = !short && (only === undefined || only.length === 0);
if (full && !args.includes("--no-write")) {
  const path = join(repoRoot(), "docs", "reliability.md");
  await writeFile(path, reliabilityDoc(results, info));
  log(`wrote ${path}`);
}
process.exit(results.every(passed) ? 0 : 1);
