import { type Check, type Scenario, seconds } from "../scenario";
import { type Disruption, disrupted } from "./crash";

/**
 * SIGSTOP of the suite's own embedded Postgres (postmaster and backends) mid-load, SIGCONT
 * 20 s later (5 s short): dead letters wait in JetStream meanwhile, and nothing else stops.
 */
function freezePostgres(short: boolean): Disruption {
  const freezeMs = short ? 5_000 : 20_000;
  let frozenAt = 0;
  let thawedAt = 0;
  let dlqReady = "";
  let probe: Promise<void> = Promise.resolve();
  return {
    what: `SIGSTOP Postgres for ${seconds(freezeMs)}`,
    downMs: freezeMs,
    inject: async (harness) => {
      const pg = harness.ownPostgres;
      if (pg === undefined) throw new Error("the freeze needs the suite's own embedded Postgres");
      const pending = await harness.ackPending();
      const stopped = await pg.freeze();
      frozenAt = Date.now();
      // Half-way through, ask the dlq whether it is ready (it should say no, or not answer).
      probe = (async () => {
        await new Promise((r) => setTimeout(r, freezeMs / 2));
        try {
          const res = await fetch(`${harness.dlqUrl}/readyz`, {
            signal: AbortSignal.timeout(2_000),
          });
          dlqReady = `${res.status}`;
        } catch {
          dlqReady = "no answer in 2 s";
        }
      })();
      return {
        inFlight: pending.total,
        note: `${stopped.length} Postgres processes stopped; ${pending.total} unacked in JetStream (${pending.detail})`,
      };
    },
    repair: async (harness) => {
      await probe;
      await harness.ownPostgres?.thaw();
      thawedAt = Date.now();
    },
    report: async (harness, load) => {
      const during = (path: string) =>
        harness.receiver
          .requests(path)
          .filter((r) => r.receivedAt >= frozenAt && r.receivedAt < thawedAt).length;
      const delivered = during("/pg-freeze/ok") + during("/pg-freeze/flaky");
      const after503 = load.counters.unavailableAt.filter((t) => t >= frozenAt).length;
      const checks: Check[] = [
        { label: `ingest answered no 503 during the freeze (${after503})`, ok: after503 === 0 },
        { label: `delivery went on during the freeze (${delivered} webhooks)`, ok: delivered > 0 },
      ];
      return {
        figures: [
          ["frozen", seconds(thawedAt - frozenAt)],
          ["webhooks delivered while frozen", `${delivered}`],
          ["dlq /readyz while frozen", dlqReady],
        ],
        checks,
      };
    },
  };
}

export function postgresScenarios(short: boolean): Scenario[] {
  return [
    disrupted(
      "pg-freeze",
      `Postgres frozen (SIGSTOP) for ${short ? 5 : 20} s mid-load, then SIGCONT`,
      freezePostgres(short),
    ),
  ];
}
