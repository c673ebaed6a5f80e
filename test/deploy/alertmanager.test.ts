import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * The Alertmanager example. amtool is not available on these machines and promtool does not
 * check Alertmanager configs, so this reads the YAML and checks what amtool would refuse (routes
 * naming receivers that do not exist, matchers it cannot parse) and what the example promises:
 * every alert of the rules reaches a Slack receiver.
 */
interface Route {
  receiver?: string;
  matchers?: string[];
  routes?: Route[];
  continue?: boolean;
}
interface SlackConfig {
  api_url?: string;
  api_url_file?: string;
  channel?: string;
  text?: string;
}
interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string; slack_configs?: SlackConfig[] }[];
  inhibit_rules?: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
}

const root = repoRoot();
const config = parse(
  readFileSync(join(root, "deploy", "alertmanager", "alertmanager.yml"), "utf8"),
) as AlertmanagerConfig;
const alertRules = (
  parse(readFileSync(join(root, "deploy", "prometheus", "rules", "hookline.yml"), "utf8")) as {
    groups: { rules: { alert?: string; labels?: Record<string, string> }[] }[];
  }
).groups
  .flatMap((group) => group.rules)
  .filter((rule) => rule.alert !== undefined);

/** Alertmanager's matcher syntax for the equality form the example uses: name="value". */
const MATCHER = /^([a-zA-Z_][a-zA-Z0-9_]*)(=|!=)"([^"]*)"$/;

function matches(matchers: string[] | undefined, labels: Record<string, string>): boolean {
  return (matchers ?? []).every((matcher) => {
    const parsed = MATCHER.exec(matcher);
    if (parsed === null) throw new Error(`not a matcher: ${matcher}`);
    const [, name = "", op, value] = parsed;
    return op === "=" ? labels[name] === value : labels[name] !== value;
  });
}

/** The receiver Alertmanager picks: the first matching child, depth first, else the parent's. */
function receiverFor(route: Route, labels: Record<string, string>, inherited?: string): string {
  const receiver = route.receiver ?? inherited;
  for (const child of route.routes ?? []) {
    if (matches(child.matchers, labels)) return receiverFor(child, labels, receiver);
  }
  if (receiver === undefined) throw new Error("a route without a receiver");
  return receiver;
}

function allRoutes(route: Route): Route[] {
  return [route, ...(route.routes ?? []).flatMap(allRoutes)];
}

describe("the Alertmanager example", () => {
  const receivers = new Map(config.receivers.map((receiver) => [receiver.name, receiver]));

  it("names only receivers that exist, each once, and parses every matcher", () => {
    expect(receivers.size).toBe(config.receivers.length);
    expect(config.route.receiver).toBeDefined();
    for (const route of allRoutes(config.route)) {
      if (route.receiver !== undefined) expect(receivers.has(route.receiver)).toBe(true);
      for (const matcher of route.matchers ?? []) expect(matcher).toMatch(MATCHER);
    }
    for (const rule of config.inhibit_rules ?? []) {
      for (const matcher of [...rule.source_matchers, ...rule.target_matchers]) {
        expect(matcher).toMatch(MATCHER);
      }
    }
  });

  it("sends every Hookline alert to a Slack receiver, critical ones to their own", () => {
    expect(alertRules.length).toBeGreaterThan(5);
    for (const rule of alertRules) {
      const labels = { alertname: rule.alert ?? "", ...rule.labels };
      const name = receiverFor(config.route, labels);
      const slack = receivers.get(name)?.slack_configs ?? [];
      expect(slack.length, `${rule.alert} goes to ${name}`).toBeGreaterThan(0);
      if (rule.labels?.severity === "critical") expect(name).toBe("slack-critical");
    }
  });

  it("keeps webhook URLs out of the file", () => {
    for (const receiver of config.receivers) {
      for (const slack of receiver.slack_configs ?? []) {
        expect(slack.api_url).toBeUndefined();
        expect(slack.api_url_file).toMatch(/^\/etc\/alertmanager\//);
      }
    }
  });
});
