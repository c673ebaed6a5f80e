import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import { promtoolBin } from "../support/prometheus-bins";

const prometheusDir = join(repoRoot(), "deploy", "prometheus");

/** Runs promtool in deploy/prometheus; its absence is a failure, never a skip. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const bin = promtoolBin();
  const run = spawnSync(bin, args, { cwd: prometheusDir, encoding: "utf8" });
  if (run.error !== undefined) throw new Error(`${bin}: ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("promtool", () => {
  it("accepts prometheus.yml and the rule file it names", () => {
    const result = promtool("check", "config", "prometheus.yml");
    expect(result.output).toContain("SUCCESS");
    expect(result.status, result.output).toBe(0);
  });

  it("accepts the alerting rules", () => {
    const result = promtool("check", "rules", "rules/hookline.yml");
    expect(result.status, result.output).toBe(0);
  });

  it("passes the rules' unit tests", () => {
    const result = promtool("test", "rules", "rules/hookline.test.yml");
    expect(result.output).toContain("SUCCESS");
    expect(result.status, result.output).toBe(0);
  });
});
