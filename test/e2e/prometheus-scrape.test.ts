import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { pollUntil, repoRoot, type Sink, type Stack } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { promqlReferences } from "../deploy/support/promql";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, fastRetries, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";
import { type Exposition, scrape } from "./support/exposition";
import { type PrometheusServer, startPrometheus } from "./support/prometheus-server";

const services = ["ingest", "delivery", "classifier", "dlq"] as const;
const prometheusDir = join(repoRoot(), "deploy", "prometheus");
const rulesFile = join(prometheusDir, "rules", "hookline.yml");
const dashboardFile = join(repoRoot(), "deploy", "grafana", "dashboards", "hookline.json");

let e2e: E2eStackWithDlq;
let sink: Sink;
let stack: Stack;
let prometheus: PrometheusServer;
let ingest: IngestClient;
let dlq: DlqClient;

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  [key: string]: unknown;
}
interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs?: ScrapeConfig[];
  [key: string]: unknown;
}

/**
 * deploy/prometheus/prometheus.yml as shipped, with each job's target moved to the port its
 * service runs on here, a 1 s scrape and evaluation interval, and the rule files by absolute
 * path (the temp dir holding the copy has none).
 */
function configForStack(stackUnderTest: Stack): string {
  const shipped = parse(readFileSync(join(prometheusDir, "prometheus.yml"), "utf8"));
  const config = shipped as PrometheusConfig;
  const jobs = (config.scrape_configs ?? []).map((job) => job.job_name);
  expect(jobs.sort()).toEqual([...services].sort());
  return stringify({
    ...config,
    global: { ...config.global, scrape_interval: "1s", evaluation_interval: "1s" },
    rule_files: (config.rule_files ?? []).map((file) =>
      isAbsolute(file) ? file : resolve(prometheusDir, file),
    ),
    scrape_configs: (config.scrape_configs ?? []).map((job) => ({
      ...job,
      static_configs: [{ targets: [`127.0.0.1:${stackUnderTest.port(job.job_name)}`] }],
    })),
  });
}

beforeAll(async () => {
  e2e = await startE2eStack({ prefix: "e2eprom", services, env: fastRetries });
  ({ sink, stack, ingest, dlq } = e2e);
  prometheus = await startPrometheus(configForStack(stack));
  // Every counter is scraped at its starting value before the scenario moves it, so increase()
  // sees the change (HooklineDeadLettersGrowing below).
  await waitForEveryJobUp();
  await runScenario();
});

afterAll(async () => {
  await prometheus?.stop();
  await e2e?.stop();
});

async function endpointAt(path: string, eventType: string) {
  const endpoint = await ingest.createEndpoint({ url: sink.url(path), eventTypes: [eventType] });
  sink.setSecrets(path, [endpoint.secret]);
  return endpoint;
}

/** Deliveries, a retried 503, a dead-lettered 400 and its replay: every pipeline series moves. */
async function runScenario(): Promise<void> {
  await endpointAt("/ok", "prom.ok");
  await endpointAt("/flaky", "prom.flaky");
  sink.script("/flaky", [{ status: 503 }]);
  const refusing = await endpointAt("/refuses", "prom.refused");
  sink.setDefault("/refuses", { status: 400 });
  for (const eventType of ["prom.ok", "prom.ok", "prom.ok", "prom.flaky", "prom.refused"]) {
    expect((await ingest.postEvent({ eventType, payload: {} })).status).toBe(202);
  }
  await sink.waitFor(3, { path: "/ok" });
  await sink.waitFor(2, { path: "/flaky" });
  // The retry's release from its tier is counted when the classifier forwards it, which on a
  // loaded machine can come after /flaky's second request (a redelivery after ack_wait answers
  // it first): wait for the count, so the series the dashboard needs exists before it is read.
  await pollUntil(
    async () => (await scrape(stack.url("classifier"))).value("hookline_retry_released_total") >= 1,
    { timeoutMs: 15_000, intervalMs: 100, what: "the classifier to count the released retry" },
  );
  let letters: DeadLetter[] = [];
  await pollUntil(
    async () => {
      letters = (await dlq.list({ endpointId: refusing.id })).json.data;
      return letters.length === 1;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: "the dead letter of /refuses" },
  );
  sink.setDefault("/refuses", { status: 200 });
  expect((await dlq.replay(letters[0]?.id ?? "")).status).toBe(202);
  await sink.waitFor(2, { path: "/refuses" });
}

async function upByJob(): Promise<Record<string, string>> {
  const series = await prometheus.query("up");
  return Object.fromEntries(series.map((s) => [s.metric.job ?? "?", s.value[1]]));
}

async function waitForEveryJobUp(): Promise<void> {
  let up: Record<string, string> = {};
  await pollUntil(
    async () => {
      up = await upByJob();
      return services.every((job) => up[job] === "1");
    },
    {
      timeoutMs: 15_000,
      intervalMs: 250,
      what: "up == 1 for every job",
      detail: () => `${JSON.stringify(up)}\n${prometheus.logs().join("\n")}`,
    },
  );
}

interface RulesAnswer {
  groups: {
    name: string;
    file: string;
    rules: { name: string; type: string; health: string; lastError?: string }[];
  }[];
}
interface AlertsAnswer {
  alerts: { labels: Record<string, string>; state: string }[];
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as { panels: Panel[] };
const dashboardQueries = dashboard.panels
  .flatMap((panel) => [panel, ...(panel.panels ?? [])])
  .flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel: panel.title ?? "?", expr: target.expr ?? "" })),
  );

describe("Prometheus with the shipped config", () => {
  it("scrapes all four services", async () => {
    expect(await upByJob()).toEqual({ ingest: "1", delivery: "1", classifier: "1", dlq: "1" });
  });

  it("stores the services' series once the pipeline runs", async () => {
    // Each series is one scrape (1 s) behind the services.
    const delivered = 'sum(hookline_delivery_attempts_total{result="delivered"})';
    let seen: Record<string, string> = {};
    await pollUntil(
      async () => {
        const [events, attempts] = await Promise.all([
          prometheus.query('hookline_ingest_events_total{outcome="accepted"}'),
          prometheus.query(delivered),
        ]);
        seen = {
          events: events.map((s) => `${s.metric.job}/${s.metric.service}=${s.value[1]}`).join(),
          delivered: attempts[0]?.value[1] ?? "none",
        };
        return seen.events === "ingest/ingest=5" && seen.delivered === "5";
      },
      {
        timeoutMs: 10_000,
        intervalMs: 250,
        what: "5 accepted events and 5 deliveries in Prometheus",
        detail: () => JSON.stringify(seen),
      },
    );
  });

  it("loads the shipped alert rules, and each one evaluates without error", async () => {
    const shipped = parse(readFileSync(rulesFile, "utf8")) as {
      groups: { name: string; rules: { alert: string }[] }[];
    };
    let groups: RulesAnswer["groups"] = [];
    await pollUntil(
      async () => {
        groups = (await prometheus.api<RulesAnswer>("rules")).data.groups;
        const rules = groups.flatMap((group) => group.rules);
        return rules.length > 0 && rules.every((rule) => rule.health !== "unknown");
      },
      { timeoutMs: 10_000, intervalMs: 250, what: "every rule evaluated once" },
    );
    // Prometheus lists groups by name.
    const byName = <T extends { name: string }>(list: T[]) =>
      [...list].sort((a, b) => a.name.localeCompare(b.name));
    expect(byName(groups).map((g) => [g.name, g.file, g.rules.map((r) => r.name)])).toEqual(
      byName(shipped.groups).map((g) => [g.name, rulesFile, g.rules.map((r) => r.alert)]),
    );
    const unhealthy = groups
      .flatMap((g) => g.rules)
      .filter((rule) => rule.type !== "alerting" || rule.health !== "ok");
    expect(unhealthy).toEqual([]);
  });

  it("has HooklineDeadLettersGrowing pending for the reason just stored, and no service down", async () => {
    let alerts: AlertsAnswer["alerts"] = [];
    await pollUntil(
      async () => {
        alerts = (await prometheus.api<AlertsAnswer>("alerts")).data.alerts;
        return alerts.some((alert) => alert.labels.alertname === "HooklineDeadLettersGrowing");
      },
      {
        timeoutMs: 10_000,
        intervalMs: 250,
        what: "HooklineDeadLettersGrowing to be pending",
        detail: () => JSON.stringify(alerts),
      },
    );
    const growing = alerts.filter((a) => a.labels.alertname === "HooklineDeadLettersGrowing");
    expect(growing).toEqual([
      {
        ...growing[0],
        labels: {
          alertname: "HooklineDeadLettersGrowing",
          reason: "non_retryable",
          severity: "warning",
        },
        state: "pending",
      },
    ]);
    expect(alerts.filter((a) => a.labels.alertname === "HooklineServiceDown")).toEqual([]);
  });

  it("answers every dashboard query", async () => {
    expect(dashboardQueries.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const { panel, expr } of dashboardQueries) {
      const ready = expr.replaceAll("$__rate_interval", "1m");
      try {
        await prometheus.query(ready);
      } catch (error) {
        failures.push(`${panel}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("the Grafana dashboard against the running services", () => {
  it("names only metrics that the services expose", async () => {
    const scraped: Exposition[] = await Promise.all(
      services.map((name) => scrape(stack.url(name))),
    );
    /** Declared metrics (a `# TYPE` line, even with no series yet) and their series names. */
    const exposed = new Set<string>(["up"]); // Prometheus' own
    for (const exposition of scraped) {
      for (const [name, type] of exposition.types) {
        exposed.add(name);
        if (type === "histogram")
          for (const suffix of ["_bucket", "_sum", "_count"]) exposed.add(`${name}${suffix}`);
        if (type === "summary")
          for (const suffix of ["_sum", "_count"]) exposed.add(`${name}${suffix}`);
      }
    }
    const missing = dashboardQueries.flatMap(({ panel, expr }) =>
      promqlReferences(expr)
        .selectors.filter(({ metric }) => !exposed.has(metric))
        .map(({ metric }) => `${panel}: ${metric}`),
    );
    expect(missing).toEqual([]);
  });

  it("has series behind the pipeline panels after the scenario", async () => {
    // Series that only an event the scenario leaves out creates: a breaker changing state, the
    // classifier disabling an endpoint (410), an undecodable message; and a limit that only some
    // configurations set (a stream's max_msgs).
    const eventOnly = new Set([
      "hookline_circuit_breaker_transitions_total",
      "hookline_endpoints_disabled_total",
      "hookline_invalid_messages_total",
      "hookline_jetstream_stream_max_messages",
    ]);
    const needSeries = [
      ...new Set(
        dashboardQueries.flatMap(({ expr }) =>
          promqlReferences(expr).selectors.map(({ metric }) => metric),
        ),
      ),
    ].filter((metric) => !eventOnly.has(metric));
    const empty: string[] = [];
    for (const metric of needSeries) {
      if ((await prometheus.query(`count(${metric})`)).length === 0) empty.push(metric);
    }
    expect(empty).toEqual([]);
  });
});
