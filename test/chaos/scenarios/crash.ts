import { sleep } from "@hookline/testkit";
import { account } from "../accounting";
import type { Harness } from "../harness";
import { type LoadRun, steadyLoad } from "../load";
import {
  awaitFanOut,
  type Check,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutcome,
  seconds,
  standardChecks,
  summarizeLoad,
  whenTrue,
} from "../scenario";

/** Env of the crash group: quick retries, so the flaky and rejected paths finish in seconds. */
export const crashEnv = {
  RETRY_SCHEDULE: "1s,2s,4s",
  RETRY_TIERS: "1s,2s,4s,8s",
  RETRY_JITTER: "0",
  // The flaky path fails half its requests on purpose; a breaker opening on it is not the subject.
  DELIVERY_BREAKER_ERROR_THRESHOLD: "100",
};

/** A failure injected mid-load and its repair; returns what was in flight when it hit. */
export interface Disruption {
  /** What is done, for the log: "kill -9 delivery". */
  what: string;
  /** Injects the failure; resolves with the duplicates it may cause (what was in flight). */
  inject(
    harness: Harness,
    openPosts: () => number,
  ): Promise<{ inFlight: number; note: string; checks?: Check[] }>;
  /** Repairs it (restarts what was stopped) and resolves once it is ready again. */
  repair(harness: Harness): Promise<void>;
  /** True when a graceful stop must cause no duplicate at all. */
  graceful?: boolean;
  /** How long the failure lasts before repair(); default 2 s. */
  downMs?: number;
  /** Runs before the load starts (e.g. to read counters for a later difference). */
  before?(harness: Harness): Promise<void>;
  /** Extra figures and checks once everything is accounted for. */
  report?(
    harness: Harness,
    load: LoadRun,
  ): Promise<{ figures: [string, string][]; checks: Check[] }>;
}

/**
 * Steady load to three endpoints (80 % healthy, 10 % failing once then healthy, so the
 * classifier retries them, and 10 % answering 400, so they are dead-lettered through the dlq);
 * the failure hits a third of the way in and is repaired 2 s later.
 */
export async function runDisrupted(
  harness: Harness,
  ctx: ScenarioContext,
  id: string,
  disruption: Disruption,
): Promise<ScenarioOutcome> {
  const count = ctx.short ? 400 : 3_000;
  const perSecond = 200;
  const types = { ok: `chaos.${id}.ok`, flaky: `chaos.${id}.flaky`, reject: `chaos.${id}.reject` };
  const paths = { ok: `/${id}/ok`, flaky: `/${id}/flaky`, reject: `/${id}/reject` };
  const { receiver } = harness;
  await harness.endpoint({ path: paths.ok, eventTypes: [types.ok] });
  await harness.endpoint({ path: paths.flaky, eventTypes: [types.flaky] });
  await harness.endpoint({ path: paths.reject, eventTypes: [types.reject] });
  receiver.behave(paths.flaky, (r) => ({ status: r.nth === 1 ? 500 : 200 }));
  receiver.behave(paths.reject, { status: 400 });
  for (const type of Object.values(types)) await awaitFanOut(harness, type);

  await disruption.before?.(harness);
  const idPrefix = `chaos-${id}-`;
  const typeOf = (n: number) =>
    n % 10 === 3 ? types.flaky : n % 10 === 7 ? types.reject : types.ok;
  const load = steadyLoad(harness.loader, {
    count,
    perSecond,
    target: { url: harness.ingestUrl, token: harness.ingestToken },
    event: (n) => ({ id: `${idPrefix}${n}`, eventType: typeOf(n), payload: { n, scenario: id } }),
  });
  ctx.log(`  load: ${count} events at ${perSecond}/s`);

  await whenTrue(() => load.started() >= count / 3, 60_000, "a third of the load sent");
  const hitAt = Date.now();
  const sentAtHit = load.started();
  const {
    inFlight,
    note,
    checks: injected = [],
  } = await disruption.inject(harness, () => load.open());
  ctx.log(
    `  ${disruption.what} after ${sentAtHit} events (took ${Date.now() - hitAt} ms); ` +
      `in flight: ${inFlight} (${note})`,
  );
  await sleep(disruption.downMs ?? 2_000);
  await disruption.repair(harness);
  const downMs = Date.now() - hitAt;
  ctx.log(`  repaired after ${seconds(downMs)}`);
  await load.done;
  const sendSeconds = ((load.endedAt ?? Date.now()) - load.startedAt) / 1000;

  const accounting = await account({
    harness,
    accepted: load.counters.accepted,
    idPrefix,
    paths: Object.values(paths),
    deadLetterTypes: [types.reject, types.flaky],
    since: load.startedAt,
    timeoutMs: ctx.short ? 90_000 : 180_000,
    log: ctx.log,
  });
  const summary = summarizeLoad(load.counters, count);
  const unverified = Object.values(paths).reduce((n, p) => n + receiver.stats(p).unverified, 0);
  const checks: Check[] = [
    ...standardChecks(summary, accounting, unverified),
    ...injected,
    disruption.graceful
      ? { label: "0 duplicates", ok: accounting.duplicates === 0 }
      : {
          label: `duplicates (${accounting.duplicates}) ≤ in flight (${inFlight})`,
          ok: accounting.duplicates <= inFlight,
        },
  ];
  const extra = (await disruption.report?.(harness, load)) ?? { figures: [], checks: [] };
  return {
    accounting,
    load: summary,
    duplicateBound: disruption.graceful ? 0 : inFlight,
    figures: [
      [
        "load",
        `${count} events in ${sendSeconds.toFixed(1)} s (${Math.round(count / sendSeconds)}/s)`,
      ],
      ["down", seconds(downMs)],
      ["in flight at the failure", `${inFlight} (${note})`],
      ["503 answers", describe503(load)],
      ["connection errors", `${summary.networkErrors}`],
      ...extra.figures,
      ["all settled after", seconds(accounting.settledMs)],
    ],
    checks: [...checks, ...extra.checks],
  };
}

function killService(service: string): Disruption {
  return {
    what: `kill -9 ${service}`,
    inject: async (harness, openPosts) => {
      await harness.stack.kill(service);
      // After the crash, what the server still holds unacknowledged is exactly what it will
      // hand out again; open POSTs are resent by the load. Both bound the duplicates.
      // Open POSTs cannot duplicate: their resends carry the same id, which JetStream dedupes.
      const pending = await harness.ackPending();
      const posts = openPosts();
      return {
        inFlight: pending.total,
        note: `${pending.total} unacked in JetStream after the kill (${pending.detail}); ${posts} POSTs open`,
      };
    },
    repair: (harness) => harness.stack.start(service),
  };
}

/** How long after a webhook's answer its ack may still be on its way into the server's state. */
const ACK_LAG_MS = 1_000;

const killNats: Disruption = {
  what: "kill -9 nats-server",
  inject: async (harness, openPosts) => {
    const nats = harness.nats;
    if (nats === undefined) throw new Error("kill-nats needs a single nats-server");
    // Taken just before the kill: the server's state goes with it. Open POSTs count here: a
    // resend after the restart may miss the dedupe of a task already delivered and removed.
    // So do webhooks answered in the last second: their acks may still be in a client's buffer
    // or not yet in the server's consumer state when it dies, and then they come back.
    const pending = await harness.ackPending();
    const posts = openPosts();
    const killedAt = Date.now();
    const acking = harness.receiver
      .requests()
      .filter((r) => r.answeredAt !== undefined && r.answeredAt >= killedAt - ACK_LAG_MS).length;
    await nats.kill();
    return {
      inFlight: pending.total + posts + acking,
      note:
        `${pending.total} unacked in JetStream just before (${pending.detail}), ` +
        `${posts} POSTs open, ${acking} webhooks answered in the last second`,
    };
  },
  repair: async (harness) => {
    await harness.nats?.restart();
    // The services reconnect by themselves; wait until each is ready again.
    for (const name of harness.stack.names()) {
      await whenReady(harness.stack.url(name), 60_000);
    }
  },
};

function terminateService(service: string): Disruption {
  let exitNote = "";
  return {
    what: `SIGTERM ${service}`,
    graceful: true,
    inject: async (harness, openPosts) => {
      const exit = await harness.stack.terminate(service, 30_000);
      exitNote = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
      const pending = await harness.ackPending();
      return {
        inFlight: pending.total + openPosts(),
        note: `${service} ${exitNote}; ${pending.total} unacked in JetStream after (${pending.detail})`,
        checks: [{ label: `${service} exits 0 on SIGTERM (${exitNote})`, ok: exit.code === 0 }],
      };
    },
    repair: (harness) => harness.stack.start(service),
  };
}

async function whenReady(baseUrl: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    await sleep(200);
  }
  throw new Error(`${baseUrl}/readyz did not answer 200 within ${timeoutMs} ms`);
}

/** "182 (NATS is not connected 150, …)": 503s by ingest's reason. */
export function describe503(load: LoadRun): string {
  const { unavailable, unavailableWhy } = load.counters;
  const why = Object.entries(unavailableWhy)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  return unavailable === 0 ? "0" : `${unavailable} (${why})`;
}

export function disrupted(id: string, title: string, disruption: Disruption): Scenario {
  return { id, title, run: (harness, ctx) => runDisrupted(harness, ctx, id, disruption) };
}

export const crashScenarios: Scenario[] = [
  disrupted("kill-delivery", "kill -9 delivery mid-load, restart", killService("delivery")),
  disrupted("kill-ingest", "kill -9 ingest mid-load, restart", killService("ingest")),
  disrupted("kill-classifier", "kill -9 classifier mid-load, restart", killService("classifier")),
  disrupted("kill-dlq", "kill -9 dlq mid-load, restart", killService("dlq")),
  disrupted("kill-nats", "kill -9 nats-server mid-load, restart", killNats),
  disrupted("sigterm-delivery", "SIGTERM delivery mid-load, restart", terminateService("delivery")),
];
