import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "./scenario";
import { runChaos, summarizeResult } from "./suite";

/*
 * The CI form of `pnpm chaos`: the short crash scenarios on one stack (real nats-server,
 * Postgres and the four services as processes). It asserts the accounting, never timing.
 */
const CORE = ["kill-delivery", "sigterm-delivery", "kill-nats"];

describe("chaos (short)", () => {
  it("loses no accepted event to kill -9 of delivery or nats-server, or to SIGTERM of delivery", {
    timeout: 300_000,
  }, async () => {
    const lines: string[] = [];
    const results = await runChaos({
      short: true,
      only: CORE,
      log: (line) => lines.push(line),
      deadline: Date.now() + 240_000,
    });
    const byId = new Map(results.map((r) => [r.id, r]));
    const report = results.map((r) => `${r.id}: ${summarizeResult(r)}`).join("\n");
    const get = (id: string): ScenarioResult => {
      const result = byId.get(id);
      if (result === undefined) throw new Error(`${id} did not run\n${lines.join("\n")}`);
      return result;
    };
    for (const id of CORE) {
      const result = get(id);
      expect(result.error, `${id}\n${lines.join("\n")}`).toBeUndefined();
      const accounting = result.accounting;
      expect(accounting?.accepted, report).toBe(result.load?.sent);
      expect(accounting?.lost, report).toBe(0);
      expect(
        result.checks.filter((c) => !c.ok).map((c) => c.label),
        report,
      ).toEqual([]);
    }
    expect(get("sigterm-delivery").accounting?.duplicates, report).toBe(0);
  });
});
