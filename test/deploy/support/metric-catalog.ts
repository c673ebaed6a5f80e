import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createServiceMetrics } from "@hookline/kit";
import { repoRoot } from "@hookline/testkit";
import { promqlReferences } from "./promql";

export type MetricType = "counter" | "gauge" | "histogram" | "summary";

export interface MetricDefinition {
  name: string;
  type: MetricType;
  labels: string[];
  /** Where it is defined: a source file, or "default metrics". */
  source: string;
}

/** Labels every scraped series carries besides its own: kit's default label and Prometheus'. */
export const ambientLabels = ["service", "job", "instance"];

/** Series Prometheus makes itself rather than scraping them. */
const synthetic: MetricDefinition[] = [
  { name: "up", type: "gauge", labels: [], source: "Prometheus" },
];

const metricConstructor = /new (Counter|Gauge|Histogram|Summary)\b[^(]*\(\{/g;

function sourceFiles(dir: string): string[] {
  return (
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
      .filter((entry) => !entry.name.endsWith(".test.ts"))
      .map((entry) => join(entry.parentPath, entry.name))
      // Test helpers under src/testing may define stand-in metrics; they never run in a service.
      .filter((path) => !path.includes(join("src", "testing")))
  );
}

/**
 * The object literal opening at `open` (a "{"): braces are counted outside strings and comments
 * (an apostrophe in a comment must not start a string).
 */
function objectLiteralAt(text: string, open: number): string {
  let depth = 0;
  let quote: string | undefined;
  for (let index = open; index < text.length; index++) {
    const char = text[index];
    if (quote !== undefined) {
      if (char === "\\") index++;
      else if (char === quote) quote = undefined;
    } else if (text.startsWith("//", index)) {
      index = text.indexOf("\n", index);
      if (index < 0) break;
    } else if (text.startsWith("/*", index)) {
      index = text.indexOf("*/", index) + 1;
      if (index <= 0) break;
    } else if (char === '"' || char === "'" || char === "`") {
      quote = char;
    } else if (char === "{") {
      depth++;
    } else if (char === "}" && --depth === 0) {
      return text.slice(open, index + 1);
    }
  }
  throw new Error(`unbalanced braces after offset ${open}`);
}

/**
 * Metrics the code defines: every `new Counter|Gauge|Histogram|Summary({ name: "…" })` in the
 * services' and kit's sources, wherever it is (a service may define a metric outside its
 * metrics.ts), with its labelNames.
 */
function definedInSources(): MetricDefinition[] {
  const root = repoRoot();
  const dirs = [
    join(root, "packages", "kit", "src"),
    ...readdirSync(join(root, "services")).map((name) => join(root, "services", name, "src")),
  ];
  const found: MetricDefinition[] = [];
  for (const file of dirs.flatMap(sourceFiles)) {
    const text = readFileSync(file, "utf8");
    for (const start of text.matchAll(metricConstructor)) {
      const options = objectLiteralAt(text, (start.index ?? 0) + start[0].length - 1);
      const name = /\bname:\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/.exec(options)?.[1];
      if (name === undefined) continue;
      const labelList = /\blabelNames:\s*\[([^\]]*)\]/.exec(options)?.[1] ?? "";
      found.push({
        name,
        type: (start[1] ?? "").toLowerCase() as MetricType,
        labels: [...labelList.matchAll(/"([^"]+)"/g)].map((match) => match[1] ?? ""),
        source: file.slice(root.length + 1),
      });
    }
  }
  return found;
}

/** prom-client's default metrics (process_*, nodejs_*), as kit registers them. */
async function defaultMetrics(): Promise<MetricDefinition[]> {
  const { registry } = createServiceMetrics("catalog");
  const metrics = await registry.getMetricsAsJSON();
  return metrics
    .filter((metric) => !metric.name.startsWith("hookline_"))
    .map((metric) => ({
      name: metric.name,
      type: String(metric.type) as MetricType,
      labels: [
        ...new Set(metric.values.flatMap((value) => Object.keys(value.labels ?? {}))),
      ].filter((label) => label !== "service" && label !== "le"),
      source: "default metrics",
    }));
}

export async function metricCatalog(): Promise<Map<string, MetricDefinition>> {
  const all = [...definedInSources(), ...(await defaultMetrics()), ...synthetic];
  return new Map(all.map((metric) => [metric.name, metric]));
}

/**
 * The definition behind a series name: the metric itself, or the histogram or summary that
 * exposes it as `_bucket`, `_sum` or `_count`. Undefined when nothing defines it.
 */
export function definitionOf(
  catalog: Map<string, MetricDefinition>,
  series: string,
): { definition: MetricDefinition; labels: string[] } | undefined {
  const direct = catalog.get(series);
  if (direct !== undefined) {
    // A histogram or summary has no series under its bare name.
    if (direct.type === "histogram" || direct.type === "summary") return undefined;
    return { definition: direct, labels: direct.labels };
  }
  const suffix = /_(bucket|sum|count)$/.exec(series);
  if (suffix === null) return undefined;
  const base = catalog.get(series.slice(0, suffix.index));
  if (base === undefined) return undefined;
  if (suffix[1] === "bucket" && base.type === "histogram") {
    return { definition: base, labels: [...base.labels, "le"] };
  }
  if (suffix[1] !== "bucket" && (base.type === "histogram" || base.type === "summary")) {
    return { definition: base, labels: base.labels };
  }
  return undefined;
}

/** Every problem with the series and labels an expression names, as readable lines. */
export function unknownMetricReferences(
  expr: string,
  catalog: Map<string, MetricDefinition>,
): string[] {
  const problems: string[] = [];
  const { selectors, groupingLabels } = promqlReferences(expr);
  const known = new Set(ambientLabels);
  for (const { metric, labels } of selectors) {
    const found = definitionOf(catalog, metric);
    if (found === undefined) {
      problems.push(`${metric}: no service defines it`);
      continue;
    }
    for (const label of found.labels) known.add(label);
    for (const label of labels) {
      if (!found.labels.includes(label) && !ambientLabels.includes(label)) {
        problems.push(`${metric}: has no label ${label}`);
      }
    }
  }
  for (const label of groupingLabels) {
    if (!known.has(label)) problems.push(`grouping by ${label}, which no series here has`);
  }
  return problems;
}
