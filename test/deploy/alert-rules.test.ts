import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  type MetricDefinition,
  metricCatalog,
  unknownMetricReferences,
} from "./support/metric-catalog";

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTests {
  rule_files: string[];
  tests: {
    name?: string;
    alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
  }[];
}

const rulesDir = join(repoRoot(), "deploy", "prometheus", "rules");
const rules = (
  parse(readFileSync(join(rulesDir, "hookline.yml"), "utf8")) as { groups: { rules: Rule[] }[] }
).groups.flatMap((group) => group.rules);
const ruleTests = parse(readFileSync(join(rulesDir, "hookline.test.yml"), "utf8")) as RuleTests;

describe("the alerting rules", () => {
  let catalog: Map<string, MetricDefinition>;
  beforeAll(async () => {
    catalog = await metricCatalog();
  });

  it("query only metrics and labels the services define", () => {
    const problems = rules.flatMap((rule) =>
      unknownMetricReferences(rule.expr, catalog).map((p) => `${rule.alert ?? rule.record}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it("cover what operators must hear about", () => {
    const alerts = new Set(rules.map((rule) => rule.alert));
    for (const name of [
      "HooklineDeliveryFailing",
      "HooklineCircuitBreakersOpen",
      "HooklineDeadLettersOpen",
      "HooklineDeadLettersGrowing",
      "HooklineRetryBacklogRising",
      "HooklineConsumerBacklogHigh",
      "HooklineStreamNearlyFull",
      "HooklineIngestUnavailable",
      "HooklineServiceDown",
    ]) {
      expect(alerts).toContain(name);
    }
    const severities = (name: string) =>
      rules.filter((rule) => rule.alert === name).map((rule) => rule.labels?.severity);
    expect(severities("HooklineDeliveryFailing").sort()).toEqual(["critical", "warning"]);
    expect(severities("HooklineDeadLettersOpen").sort()).toEqual(["critical", "warning"]);
  });

  it("give every alert a severity and a summary", () => {
    const incomplete = rules
      .filter((rule) => rule.alert !== undefined)
      .filter((rule) => !rule.labels?.severity || !rule.annotations?.summary)
      .map((rule) => rule.alert);
    expect(incomplete).toEqual([]);
  });

  it("have a unit test where each alert fires and one where it stays silent", () => {
    expect(ruleTests.rule_files).toEqual(["hookline.yml"]);
    const cases = ruleTests.tests.flatMap((test) => test.alert_rule_test ?? []);
    const missing: string[] = [];
    for (const alert of new Set(rules.map((rule) => rule.alert).filter((a) => a !== undefined))) {
      const own = cases.filter((entry) => entry.alertname === alert);
      if (!own.some((entry) => (entry.exp_alerts ?? []).length > 0)) missing.push(`${alert} fires`);
      if (!own.some((entry) => (entry.exp_alerts ?? []).length === 0)) {
        missing.push(`${alert} stays silent`);
      }
    }
    expect(missing).toEqual([]);
  });
});
