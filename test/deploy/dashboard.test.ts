import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import {
  definitionOf,
  type MetricDefinition,
  metricCatalog,
  unknownMetricReferences,
} from "./support/metric-catalog";
import { promqlReferences } from "./support/promql";

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string }[] };
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template.
const datasourceVariable = "${datasource}";
const dashboardPath = join(repoRoot(), "deploy", "grafana", "dashboards", "hookline.json");
const dashboard = JSON.parse(readFileSync(dashboardPath, "utf8")) as Dashboard;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queries = panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel: panel.title ?? "?", target })),
);

describe("the Grafana dashboard", () => {
  let catalog: Map<string, MetricDefinition>;
  beforeAll(async () => {
    catalog = await metricCatalog();
  });

  it("has a Prometheus datasource variable that every panel and query uses", () => {
    const variable = dashboard.templating.list.find((entry) => entry.name === "datasource");
    expect(variable).toMatchObject({ type: "datasource", query: "prometheus" });
    const notUsingIt = panels
      .filter((panel) => panel.type !== "row")
      .flatMap((panel) => [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)])
      .filter((datasource) => datasource?.uid !== datasourceVariable);
    expect(notUsingIt).toEqual([]);
  });

  it("queries only metrics and labels the services define", () => {
    expect(queries.length).toBeGreaterThan(10);
    const problems = queries.flatMap(({ panel, target }) =>
      unknownMetricReferences(target.expr ?? "", catalog).map((problem) => `${panel}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it("shows each part of the pipeline", () => {
    const referenced = new Set(
      queries.flatMap(({ target }) =>
        promqlReferences(target.expr ?? "").selectors.map(({ metric }) => metric),
      ),
    );
    for (const needed of [
      "hookline_ingest_events_total",
      "hookline_delivery_attempts_total",
      "hookline_delivery_end_to_end_seconds_bucket",
      "hookline_retry_scheduled_total",
      "hookline_retry_released_total",
      "hookline_dead_letters",
      "hookline_dead_letters_stored_total",
      "hookline_circuit_breakers",
      "hookline_jetstream_consumer_pending_messages",
      "hookline_jetstream_stream_bytes",
      "hookline_jetstream_stream_max_bytes",
    ]) {
      expect(referenced).toContain(needed);
    }
    const latency = queries
      .map(({ target }) => target.expr ?? "")
      .filter((expr) => expr.includes("hookline_delivery_end_to_end_seconds_bucket"));
    expect(latency.some((expr) => expr.startsWith("histogram_quantile(0.5,"))).toBe(true);
    expect(latency.some((expr) => expr.startsWith("histogram_quantile(0.99,"))).toBe(true);
  });

  it("gives every panel a title and a unique id", () => {
    const ids = panels.map((panel) => (panel as { id?: number }).id);
    expect(new Set(ids).size).toBe(panels.length);
    expect(panels.filter((panel) => !panel.title)).toEqual([]);
  });
});

describe("the PromQL reference extraction the dashboard check relies on", () => {
  it("finds metrics inside functions, aggregations and histograms, and ignores the rest", () => {
    const { selectors, groupingLabels } = promqlReferences(
      'histogram_quantile(0.99, sum by (le, lane) (rate(a_seconds_bucket{lane="fresh"}[$__rate_interval])))' +
        ' / on() group_left sum(increase(b_total[5m] offset 1h)) > 1e3 and up{job=~"x|y"} == 0',
    );
    expect(selectors).toEqual([
      { metric: "a_seconds_bucket", labels: ["lane"] },
      { metric: "up", labels: ["job"] },
      { metric: "b_total", labels: [] },
    ]);
    expect(groupingLabels).toEqual(["le", "lane"]);
  });

  it("tells histogram series from unknown ones", () => {
    const catalog = new Map<string, MetricDefinition>([
      ["h_seconds", { name: "h_seconds", type: "histogram", labels: ["lane"], source: "x" }],
      ["c_total", { name: "c_total", type: "counter", labels: [], source: "x" }],
    ]);
    expect(definitionOf(catalog, "h_seconds_bucket")?.labels).toEqual(["lane", "le"]);
    expect(definitionOf(catalog, "h_seconds_count")?.definition.name).toBe("h_seconds");
    expect(definitionOf(catalog, "h_seconds")).toBeUndefined();
    expect(definitionOf(catalog, "c_total_count")).toBeUndefined();
    expect(definitionOf(catalog, "c_total")?.definition.type).toBe("counter");
    expect(unknownMetricReferences('sum by (nope) (c_total{lane="x"})', catalog)).toEqual([
      "c_total: has no label lane",
      "grouping by nope, which no series here has",
    ]);
  });
});
