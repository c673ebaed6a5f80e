// One measured load: the receiver is told the run's id prefix, a fresh load generator sends,
// then the run waits until every accepted event is delivered (or dead-lettered, for event types
// whose endpoints always fail), and counts lost and duplicated ids exactly from the two bitmaps.
import type { BenchChild } from "./processes";
import { forkChild, startCpuWindow } from "./processes";
import type { LatencySummary, LoadPlan, LoadReport, ReceiverReport } from "./protocol";

export interface LoadTarget {
  system: "relay" | "hookline";
  origin: string;
  path: string;
  token?: string;
  /** Processes of the system under test, by name. */
  pids: () => Record<string, number>;
  /** Dead letters stored since this moment (Hookline only). */
  deadLetters?: (fromIso: string) => Promise<DeadLetterCounts>;
}

export interface DeadLetterCounts {
  total: number;
  byReason: Record<string, number>;
}

export interface MeasureOptions {
  name: string;
  target: LoadTarget;
  receiver: BenchChild;
  plan: Omit<LoadPlan, "origin" | "path" | "token" | "run">;
  /** Event types whose endpoints always answer 500: their events end dead-lettered, and are not
   *  counted as healthy ones missing. */
  failingTypes?: string[];
  /** How long to wait for the last deliveries after the load stopped. */
  drainTimeoutMs: number;
}

export interface LoadResult {
  name: string;
  system: "relay" | "hookline";
  mode: string;
  sent: number;
  accepted: number;
  rejected: Record<string, number>;
  delivered: number;
  deadLettered: number;
  deadLetterReasons: Record<string, number>;
  /** Accepted events of healthy endpoints that were dead-lettered, not delivered (backlog_full). */
  healthyDeadLettered: number;
  /** Accepted, and neither delivered nor dead-lettered. */
  lost: number;
  duplicates: number;
  /** Delivered ids that were never accepted (a 503 whose events were stored after all). */
  unaccepted: number;
  acceptedPerSecond: number;
  /** Delivered ids over the time from the first send to the last delivery. */
  deliveredPerSecond: number;
  /** From the load generator's send (its due time, when paced) to the receiver. */
  latency: LatencySummary;
  /** The POST's own answer time, 2xx only. */
  response: LatencySummary;
  /** CPU ms per delivered event, per process. */
  cpuMsPerEvent: Record<string, number>;
  /** Whole-box CPU over the run, % of one core (this box has 2). */
  boxCpuPercent: number;
  seconds: number;
}

let runs = 0;

export async function measureLoad(options: MeasureOptions): Promise<LoadResult> {
  const { target, receiver, plan } = options;
  const run = `${options.name.replace(/[^a-z0-9]/gi, "")}-${Date.now().toString(36)}${runs++}-`;
  await receiver.ask({ type: "reset", run }, "reset-done");
  const load = forkChild("load", "load");
  const failing = new Set(options.failingTypes ?? []);
  const window = startCpuWindow({ ...target.pids(), receiver: receiver.pid });
  const loadPlan: LoadPlan = {
    ...plan,
    origin: target.origin,
    path: target.path,
    run,
    ...(target.token ? { token: target.token } : {}),
  };
  const startedAt = new Date().toISOString();
  const report = await load.ask<LoadReport>(loadPlan, "done");
  await load.stop();

  const acceptedIds = Buffer.from(report.acceptedIds, "base64");
  const isFailing = (n: number) => failing.has(plan.eventTypes[n % plan.eventTypes.length] ?? "");
  let accepted = 0;
  for (let n = 0; n < acceptedIds.length; n++) if (acceptedIds[n] === 1) accepted++;
  const receivedOf = (report: ReceiverReport) => {
    const counts = Buffer.from(report.received, "base64");
    let acceptedAndReceived = 0;
    let unaccepted = 0;
    let healthyMissing = 0;
    for (let n = 0; n < Math.max(counts.length, acceptedIds.length); n++) {
      const wasAccepted = acceptedIds[n] === 1;
      const got = (counts[n] ?? 0) > 0;
      if (wasAccepted && got) acceptedAndReceived++;
      if (got && !wasAccepted) unaccepted++;
      if (wasAccepted && !got && !isFailing(n)) healthyMissing++;
    }
    return { acceptedAndReceived, unaccepted, healthyMissing };
  };

  // Every accepted event ends delivered or dead-lettered: wait for that, or the drain timeout.
  // Dead letters are counted by the dlq (every letter since this run started; runs follow one
  // another, each drained before the next).
  const giveUpAt = Date.now() + options.drainTimeoutMs;
  let received: ReceiverReport;
  let counted: ReturnType<typeof receivedOf>;
  let deadLetters: DeadLetterCounts = { total: 0, byReason: {} };
  for (;;) {
    received = await receiver.ask<ReceiverReport>({ type: "report" }, "report");
    counted = receivedOf(received);
    if (target.deadLetters && counted.acceptedAndReceived < accepted) {
      deadLetters = await target.deadLetters(startedAt);
    }
    const done = counted.acceptedAndReceived + deadLetters.total >= accepted;
    if (done || Date.now() > giveUpAt) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const cpu = window();
  cpu.seconds["load generator"] = report.cpuSeconds;

  const lastAt = Math.max(received.lastAt, report.endedAt);
  const delivered = received.unique;
  const cpuMsPerEvent = Object.fromEntries(
    Object.entries(cpu.seconds).map(([name, s]) => [name, (s * 1_000) / Math.max(1, delivered)]),
  );
  return {
    name: options.name,
    system: target.system,
    mode:
      plan.mode === "paced"
        ? `paced ${plan.rate}/s, ${plan.seconds} s`
        : `closed loop, ${plan.connections} connections${plan.batch > 0 ? `, batches of ${plan.batch}` : ""}, ${plan.seconds} s`,
    sent: report.sent,
    accepted: report.accepted,
    rejected: report.rejected,
    delivered,
    deadLettered: deadLetters.total,
    deadLetterReasons: deadLetters.byReason,
    healthyDeadLettered: counted.healthyMissing,
    lost: Math.max(0, accepted - counted.acceptedAndReceived - deadLetters.total),
    duplicates: received.duplicates,
    unaccepted: counted.unaccepted,
    acceptedPerSecond: report.accepted / ((report.endedAt - report.startedAt) / 1_000),
    deliveredPerSecond: delivered / ((lastAt - report.startedAt) / 1_000),
    latency: received.latency,
    response: report.response,
    cpuMsPerEvent,
    boxCpuPercent: cpu.boxPercent,
    seconds: cpu.wallSeconds,
  };
}
