// Messages between `pnpm bench` and its child processes (receiver, load generator), over the
// IPC channel of child_process.fork.

/** Percentiles in ms; NaN when there were no samples. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarise(samples: number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) =>
    sorted.length === 0
      ? Number.NaN
      : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN);
  return {
    count: sorted.length,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export type ReceiverRequest =
  | { type: "reset"; run: string }
  | { type: "report" }
  | { type: "stop" };

export interface ReceiverReport {
  type: "report";
  run: string;
  /** Ids of this run answered 2xx at least once. */
  unique: number;
  /** 2xx answers beyond the first per id. */
  duplicates: number;
  answeredOk: number;
  answeredFail: number;
  /** 2xx answers whose webhook-id was not of this run. */
  foreign: number;
  /** Epoch ms of the first and last 2xx answer of this run. */
  firstAt: number;
  lastAt: number;
  /** From the load generator's send to the receiver, first delivery of each id. */
  latency: LatencySummary;
  /** base64 of one byte per n: how often id `<run><n>` was answered 2xx (capped at 255). */
  received: string;
}

export interface LoadPlan {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `/v1/events`, `/v1/events/batch` or the relay's path. */
  path: string;
  token?: string;
  run: string;
  /** Closed: `connections` requests always open. Paced: one request every 1000/rate ms. */
  mode: "closed" | "paced";
  connections: number;
  seconds: number;
  /** Events per second, paced mode. */
  rate?: number;
  /** Events per request; 0 sends single events. */
  batch: number;
  /** The n-th event's type. */
  eventTypes: string[];
  /** Bytes of padding in each payload (the event is about this size). */
  padBytes: number;
}

export interface LoadReport {
  type: "done";
  sent: number;
  accepted: number;
  /** Non-2xx answers by status, and "error" for network errors. */
  rejected: Record<string, number>;
  /** Epoch ms of the first send and the last answer. */
  startedAt: number;
  endedAt: number;
  /** How long each request took to answer 2xx. */
  response: LatencySummary;
  /** base64 of one byte per n: 1 when event `<run><n>` was accepted. */
  acceptedIds: string;
  /** The load generator's own CPU seconds over the run (it exits before the run is counted). */
  cpuSeconds: number;
}
