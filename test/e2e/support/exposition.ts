import { spawnSync } from "node:child_process";
import { promtoolBin } from "../../support/prometheus-bins";

/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed /metrics answer. */
export interface Exposition {
  readonly text: string;
  readonly samples: Sample[];
  /** Metric name → its `# TYPE` (counter, gauge, histogram, …). */
  readonly types: Map<string, string>;
  /** The sum of every sample of `name` whose labels include `labels`; 0 when none matches. */
  value(name: string, labels?: Record<string, string>): number;
  /** Whether any sample of `name` matches `labels`. */
  has(name: string, labels?: Record<string, string>): boolean;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char));
}

function parseLabels(body: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  labelPair.lastIndex = 0;
  while (labelPair.lastIndex < body.length) {
    const start = labelPair.lastIndex;
    const match = labelPair.exec(body);
    if (match === null) throw new Error(`bad labels at offset ${start} in: ${line}`);
    labels[match[1] ?? ""] = unescapeLabel(match[2] ?? "");
  }
  return labels;
}

/** Go's ParseFloat, which Prometheus uses, takes NaN and Inf in any case; prom-client writes "Nan". */
function parseValue(text: string, line: string): number {
  const special = text.toLowerCase();
  if (special === "+inf" || special === "inf") return Number.POSITIVE_INFINITY;
  if (special === "-inf") return Number.NEGATIVE_INFINITY;
  if (special === "nan") return Number.NaN;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`bad sample value in: ${line}`);
  return value;
}

/** The Prometheus text exposition format (version 0.0.4), as prom-client writes it. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1] ?? "", type[2] ?? "");
      continue;
    }
    const match = sampleLine.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    samples.push({
      name: match[1] ?? "",
      labels: parseLabels(match[2] ?? "", line),
      value: parseValue(match[3] ?? "", line),
    });
  }
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter(
      (sample) =>
        sample.name === name &&
        Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
  return {
    text,
    samples,
    types,
    value: (name, labels = {}) => matching(name, labels).reduce((sum, s) => sum + s.value, 0),
    has: (name, labels = {}) => matching(name, labels).length > 0,
  };
}

export async function scrape(baseUrl: string): Promise<Exposition> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  return parseExposition(await res.text());
}

/** One series whose change a scenario should cause, and by how much. */
export interface ExpectedDelta {
  service: string;
  metric: string;
  labels?: Record<string, string>;
  delta: number;
}

export function describeSeries(metric: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  return pairs.length === 0 ? metric : `${metric}{${pairs.join(",")}}`;
}

/**
 * Every expected series as "<service> <series>" → its actual change between two scrapes, so a
 * failing test prints the whole table, not the first mismatch.
 */
export function actualDeltas(
  expected: ExpectedDelta[],
  before: Record<string, Exposition>,
  after: Record<string, Exposition>,
): Record<string, number> {
  const table: Record<string, number> = {};
  for (const { service, metric, labels } of expected) {
    const was = before[service]?.value(metric, labels) ?? 0;
    const is = after[service]?.value(metric, labels) ?? 0;
    table[`${service} ${describeSeries(metric, labels)}`] = is - was;
  }
  return table;
}

export function expectedTable(expected: ExpectedDelta[]): Record<string, number> {
  return Object.fromEntries(
    expected.map(({ service, metric, labels, delta }) => [
      `${service} ${describeSeries(metric, labels)}`,
      delta,
    ]),
  );
}

/** `promtool check metrics` on an exposition; its absence is a failure, never a skip. */
export function promtoolCheckMetrics(text: string): { status: number | null; problems: string[] } {
  const bin = promtoolBin();
  const run = spawnSync(bin, ["check", "metrics"], { input: text, encoding: "utf8" });
  if (run.error !== undefined) throw new Error(`${bin}: ${run.error.message}`);
  const problems = `${run.stdout}${run.stderr}`
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  return { status: run.status, problems };
}
