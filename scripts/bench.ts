// `pnpm bench`: the published benchmark (docs/benchmarks.md). Builds the services, starts its
// own nats-server, Postgres, the four built services, a receiver, a load generator and a
// direct-relay reference, all on 127.0.0.1, runs every scenario once and writes the figures.
// `pnpm bench --smoke` (or BENCH_SMOKE=1) runs each scenario for a few seconds with small
// counts, writes to .bench/ instead of docs/, and fails when anything was lost or duplicated.
// Env: BENCH_SECONDS (20), BENCH_RETRIES (1,000,000), BENCH_REGISTRY (100,000),
// BENCH_ONLY (comma-separated: relay,single,batch,paced,fanout,retries,registry),
// BENCH_PACED_RATE (1,000: the paced runs' events per second).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { natsServerBin, repoRoot } from "@hookline/testkit";
import { estimatedWriteMsFor, heldRetries } from "./bench/held-retries";
import { type Hookline, startHookline } from "./bench/hookline";
import { type LoadResult, type LoadTarget, measureLoad } from "./bench/measure";
import { type BenchChild, forkChild } from "./bench/processes";
import {
  type BenchResults,
  keptAnalysis,
  type RegistryFigures,
  renderMarkdown,
  targetsOf,
} from "./bench/report";

const smoke = process.argv.includes("--smoke") || process.env.BENCH_SMOKE === "1";
const seconds = Number(process.env.BENCH_SECONDS ?? (smoke ? 3 : 20));
const retries = Number(process.env.BENCH_RETRIES ?? (smoke ? 2_000 : 1_000_000));
const registrySize = Number(process.env.BENCH_REGISTRY ?? (smoke ? 1_000 : 100_000));
const only = new Set((process.env.BENCH_ONLY ?? "").split(",").filter(Boolean));
const wants = (scenario: string) => only.size === 0 || only.has(scenario);
const root = repoRoot();
const outDir = process.env.BENCH_OUT ?? join(root, smoke ? ".bench" : "docs");
/** ~1 KiB events, as in the measurements. */
const PAD_BYTES = 900;
const CONNECTIONS = 64;
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 1_000);
const WARM_UP_SECONDS = smoke ? 1 : 3;
/**
 * Single-event runs with the attempt log on and off, alternating (issue 11's comparison): an
 * even count, so each side runs first in as many pairs as it runs second.
 */
const ATTEMPT_LOG_PAIRS = smoke ? 1 : 4;

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function describeLoad(r: LoadResult): string {
  return (
    `${r.name}: accepted ${Math.round(r.acceptedPerSecond)}/s, delivered ${Math.round(r.deliveredPerSecond)}/s, ` +
    `p50/p99 ${r.latency.p50.toFixed(1)}/${r.latency.p99.toFixed(1)} ms, POST p99 ${r.response.p99.toFixed(1)} ms, ` +
    `box ${Math.round(r.boxCpuPercent)} %, lost ${r.lost}, dup ${r.duplicates}`
  );
}

/**
 * Waits until the dlq has taken every attempt record from JetStream, then counts the rows. Two
 * polls in a row must agree: delivery publishes an outcome after the receiver has answered, so
 * the last records of a run may reach ATTEMPTS after a first "nothing waiting".
 */
async function attemptLogCaughtUp(h: Hookline, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let previous: { rows: number; waiting: number } | undefined;
  for (;;) {
    const log = await h.attemptLog();
    if (log.waiting === 0 && previous?.waiting === 0 && previous.rows === log.rows) return log;
    if (Date.now() > deadline) throw new Error(`the attempt log is ${log.waiting} records behind`);
    previous = log;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function machine(): string {
  const cpu = cpus();
  const memGiB = Math.round(
    Number(execFileSync("awk", ["/MemTotal/ {print $2}", "/proc/meminfo"], { encoding: "utf8" })) /
      1024 /
      1024,
  );
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, ${memGiB} GiB, ${process.platform} ${process.arch}`;
}

async function main(): Promise<void> {
  log(`building the services (pnpm build)${smoke ? "; smoke run" : ""}`);
  const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error("pnpm build failed");

  const receiver = forkChild("receiver", "receiver");
  const { port } = await receiver.ask<{ port: number }>(undefined, "listening");
  const receiverOrigin = `http://127.0.0.1:${port}`;
  const loads: LoadResult[] = [];
  const registry: RegistryFigures[] = [];
  let held: BenchResults["heldRetries"];
  let attemptLog: BenchResults["attemptLog"];
  const closed = (eventTypes: string[], batch = 0, connections = CONNECTIONS) => ({
    mode: "closed" as const,
    connections,
    seconds,
    batch,
    eventTypes,
    padBytes: PAD_BYTES,
  });
  const paced = (eventTypes: string[]) => ({
    mode: "paced" as const,
    connections: 256,
    seconds,
    rate: PACED_RATE,
    batch: 0,
    eventTypes,
    padBytes: PAD_BYTES,
  });
  /** A short closed-loop run that is not recorded: JIT-compiled code, open connections. */
  const warmUp = async (target: LoadTarget, eventTypes: string[], drainTimeoutMs: number) => {
    const warm = await measureLoad({
      name: "warm-up",
      target,
      receiver,
      plan: { ...closed(eventTypes), seconds: WARM_UP_SECONDS },
      drainTimeoutMs,
    });
    if (warm.lost > 0 || warm.duplicates > 0) loads.push(warm);
  };
  const record = (result: LoadResult) => {
    loads.push(result);
    log(describeLoad(result));
    return result;
  };

  let relay: BenchChild | undefined;
  let hookline: Hookline | undefined;
  try {
    if (wants("relay")) {
      relay = forkChild("relay", "relay", { RELAY_TARGET: `${receiverOrigin}/hook/relay` });
      const relayPort = (await relay.ask<{ port: number }>(undefined, "listening")).port;
      const relayPid = relay.pid;
      const target: LoadTarget = {
        system: "relay",
        origin: `http://127.0.0.1:${relayPort}`,
        path: "/relay",
        pids: () => ({ relay: relayPid }),
      };
      const drainTimeoutMs = 30_000;
      await warmUp(target, ["bench.relay"], drainTimeoutMs);
      record(
        await measureLoad({
          name: "relay single",
          target,
          receiver,
          plan: closed(["bench.relay"]),
          drainTimeoutMs,
        }),
      );
      record(
        await measureLoad({
          name: "relay paced 1,000/s",
          target,
          receiver,
          plan: paced(["bench.relay"]),
          drainTimeoutMs,
        }),
      );
      await relay.stop();
      relay = undefined;
    }

    const scenarios = ["single", "batch", "paced", "fanout", "retries", "registry"];
    if (scenarios.some(wants)) {
      log("starting Hookline (nats-server, Postgres, four built services)");
      hookline = await startHookline({
        RETRY_MAX_BYTES: `${4 * 1024 ** 3}`,
        ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
        DISPATCH_RETRY_MAX_BYTES: `${4 * 1024 ** 3}`,
      });
      const h = hookline;
      const target: LoadTarget = {
        system: "hookline",
        origin: h.ingestOrigin,
        path: "/v1/events",
        token: h.token,
        pids: h.pids,
        deadLetters: h.deadLetters,
      };
      const drainTimeoutMs = smoke ? 60_000 : 300_000;
      // The single-event target and nine more: the small registry.
      await h.createEndpoints([
        { url: `${receiverOrigin}/hook/single`, eventTypes: ["bench.single"] },
        ...Array.from({ length: 9 }, (_, i) => ({
          url: `${receiverOrigin}/hook/other-${i}`,
          eventTypes: [`bench.other-${i}`],
        })),
      ]);
      const smallRegistryTypes = [
        "bench.single",
        ...Array.from({ length: 9 }, (_, i) => `bench.other-${i}`),
      ];
      // Every single-event run follows a restart: warm the services' JIT first, as for the relay.
      const singleRun = async (name: string, afterWarmUp?: () => Promise<void>) => {
        await warmUp(target, ["bench.single"], drainTimeoutMs);
        await afterWarmUp?.();
        return record(
          await measureLoad({
            name,
            target,
            receiver,
            plan: closed(["bench.single"]),
            drainTimeoutMs,
          }),
        );
      };

      // A single-event run with the attempt log on (the default): every delivered event must
      // become one row, counted once the dlq has caught up.
      const loggedSingleRun = async (name: string) => {
        let rowsBefore = 0;
        const result = await singleRun(name, async () => {
          rowsBefore = (await attemptLogCaughtUp(h, drainTimeoutMs)).rows;
        });
        const waited = performance.now();
        const rowsAfter = (await attemptLogCaughtUp(h, drainTimeoutMs)).rows;
        const catchUpMs = performance.now() - waited;
        log(
          `attempt log: ${rowsAfter - rowsBefore} rows for ${result.delivered} deliveries, ` +
            `caught up ${Math.round(catchUpMs)} ms after the run`,
        );
        attemptLog = {
          expected: (attemptLog?.expected ?? 0) + result.delivered,
          counted: (attemptLog?.counted ?? 0) + rowsAfter - rowsBefore,
          catchUpMs: Math.max(attemptLog?.catchUpMs ?? 0, catchUpMs),
        };
        return result;
      };
      if (wants("single") || wants("registry")) {
        const startup = await h.restart();
        log(`10 endpoints: ready ms ${JSON.stringify(startup.readyMs)}`);
        registry.push({ endpoints: 10, startup, single: await loggedSingleRun("single events") });
        if (wants("single")) {
          // Runs of one configuration differ by up to a third on this shared box, more than the
          // log costs: on and off alternate, each after a restart, and medians are compared.
          // Later runs are slower, on or off (the box drifts over a bench), so the order turns
          // every pair (on-off, off-on, …): a fixed order would credit the drift to one side.
          for (let pair = 1; pair <= ATTEMPT_LOG_PAIRS; pair++) {
            const run = pair === 1 ? "" : `, run ${pair}`;
            const logOn = async () => {
              await h.restart({ dlq: { ATTEMPT_LOG: "true" } });
              await loggedSingleRun(`single events, attempt log on${run}`);
            };
            const logOff = async () => {
              await h.restart({ dlq: { ATTEMPT_LOG: "false" } });
              await singleRun(`single events, attempt log off${run}`);
              // Delivery publishes its success records whether the log is on or not. An off-run's
              // belong to no on-run: left in the stream, the next on-run's dlq wrote them before
              // its run, and the run paid for that backlog (dlq, nats-server and Postgres each
              // 0.01-0.02 ms more per event than in an on-run without one).
              const purged = await h.purgeAttemptRecords();
              log(`attempt log off: ${purged} success records purged from the stream`);
            };
            // Pair 1's on-run is "single events" above.
            if (pair === 1) await logOff();
            else if (pair % 2 === 0) {
              await logOff();
              await logOn();
            } else {
              await logOn();
              await logOff();
            }
          }
          await h.restart({ dlq: { ATTEMPT_LOG: "true" } });
        }
      }
      if (wants("batch")) {
        record(
          await measureLoad({
            name: "batches of 100",
            target: { ...target, path: "/v1/events/batch" },
            receiver,
            // Over the ten endpoints: one endpoint's backlog would reach ENDPOINT_BACKLOG_QUOTA.
            plan: closed(smallRegistryTypes, 100, 8),
            drainTimeoutMs,
          }),
        );
      }
      if (wants("paced")) {
        // Warm, and after the batches' backlog is gone: the paced run shows the path, not a queue.
        await warmUp(target, ["bench.single"], drainTimeoutMs);
        record(
          await measureLoad({
            name: "paced 1,000/s",
            target,
            receiver,
            plan: paced(["bench.single"]),
            drainTimeoutMs,
          }),
        );
      }
      if (wants("fanout")) {
        await warmUp(target, ["bench.single"], drainTimeoutMs);
        const healthyTypes = Array.from({ length: 100 }, (_, i) => `bench.fan-a-${i}`);
        await h.createEndpoints(
          healthyTypes.map((type, i) => ({
            url: `${receiverOrigin}/hook/fan-a-${i}`,
            eventTypes: [type],
          })),
        );
        record(
          await measureLoad({
            name: "100 endpoints, all healthy",
            target,
            receiver,
            plan: paced(healthyTypes),
            drainTimeoutMs,
          }),
        );
        const mixedTypes = Array.from({ length: 100 }, (_, i) => `bench.fan-b-${i}`);
        const failingTypes = mixedTypes.filter((_, i) => i % 10 === 0);
        await h.createEndpoints(
          mixedTypes.map((type, i) =>
            i % 10 === 0
              ? {
                  url: `${receiverOrigin}/fail/fan-b-${i}`,
                  eventTypes: [type],
                  retrySchedule: ["1s", "1s"],
                }
              : { url: `${receiverOrigin}/hook/fan-b-${i}`, eventTypes: [type] },
          ),
        );
        record(
          await measureLoad({
            name: "100 endpoints, 10 failing",
            target,
            receiver,
            plan: paced(mixedTypes),
            failingTypes,
            drainTimeoutMs,
          }),
        );
      }
      if (wants("registry")) {
        const types = 1_000;
        const extra = Math.max(0, registrySize - 10);
        log(`registering ${extra} more endpoints over ${types} event types`);
        const started = Date.now();
        await h.createEndpoints(
          Array.from({ length: extra }, (_, i) => ({
            url: `${receiverOrigin}/hook/reg-${i}`,
            eventTypes: [`bench.reg-${i % types}`],
          })),
          32,
        );
        log(`registered in ${((Date.now() - started) / 1_000).toFixed(1)} s`);
        const startup = await h.restart();
        log(`${registrySize} endpoints: ready ms ${JSON.stringify(startup.readyMs)}`);
        registry.push({
          endpoints: registrySize,
          startup,
          single: await singleRun(
            `single events, ${registrySize.toLocaleString("en-US")} endpoints`,
          ),
        });
      }
      if (wants("retries")) {
        const dueAfterMs = smoke ? 3_000 : 20_000;
        const dueMs = estimatedWriteMsFor(retries) + dueAfterMs;
        const tier =
          dueMs <= 25_000 ? "30s" : dueMs <= 110_000 ? "2m" : dueMs <= 280_000 ? "5m" : "30m";
        log(`held retries: writing ${retries} into the ${tier} tier`);
        held = await heldRetries({
          hookline: h,
          receiver,
          receiverOrigin,
          count: retries,
          endpoints: 100,
          tier,
          dueAfterMs,
          drainTimeoutMs: smoke ? 60_000 : 1_800_000,
        });
        log(
          `held retries: released ${Math.round(held.releasedPerSecond)}/s, delivered ${Math.round(held.deliveredPerSecond)}/s, ` +
            `lost ${held.lost}, dup ${held.duplicates}, peak RSS ${JSON.stringify(held.rssMb.peak)}`,
        );
      }
    }
  } finally {
    await relay?.stop();
    await hookline?.stop();
    await receiver.stop();
  }

  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], {
    cwd: root,
    encoding: "utf8",
  });
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], {
    cwd: root,
    encoding: "utf8",
  });
  const nats = spawnSync(natsServerBin(), ["--version"], { encoding: "utf8" });
  const partial: Omit<BenchResults, "targets"> = {
    date: new Date().toISOString(),
    commit: `${commit.stdout.trim()}${dirty.stdout.trim() ? " (with uncommitted changes)" : ""}`,
    machine: machine(),
    node: process.version,
    natsServer: nats.stdout.trim() || "nats-server",
    smoke,
    processes: "one of each service, one nats-server, one receiver, one load generator",
    loads,
    ...(held ? { heldRetries: held } : {}),
    ...(attemptLog ? { attemptLog } : {}),
    registry,
  };
  const results: BenchResults = { ...partial, targets: targetsOf(partial) };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  const markdownPath = join(outDir, "benchmarks.md");
  const previous = existsSync(markdownPath) ? readFileSync(markdownPath, "utf8") : "";
  writeFileSync(markdownPath, renderMarkdown(results, keptAnalysis(previous)));
  log(`wrote ${join(outDir, "benchmarks.md")} and benchmarks.json`);
  for (const t of results.targets)
    log(`${t.met ? "met " : "MISS"} ${t.what}: ${t.goal}: ${t.measured}`);

  const lossy = loads.filter((l) => l.lost > 0 || l.duplicates > 0 || l.accepted === 0);
  if (lossy.length > 0 || (held && (held.lost > 0 || held.duplicates > 0))) {
    console.error("bench: something was lost, duplicated, or nothing was accepted (see above)");
    process.exitCode = 1;
  }
  if (attemptLog && attemptLog.counted !== attemptLog.expected) {
    console.error(
      `bench: the attempt log holds ${attemptLog.counted} rows for ${attemptLog.expected} deliveries`,
    );
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
