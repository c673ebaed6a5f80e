import type { Harness } from "../harness";
import type { LoadRun } from "../load";
import { type Check, ms, type Scenario } from "../scenario";
import { type Disruption, disrupted } from "./crash";

const ATTEMPTS = "hookline_delivery_attempts_total";
/** Ingest's publish timeout: a publish sent just before an election ends fails this much later. */
const PUBLISH_TIMEOUT_MS = 2_000;

/**
 * kill -9 of one node of a 3-node cluster (JETSTREAM_REPLICAS=3) mid-load, and its restart
 * 5 s later: the stream leader of the dispatch stream, or a node that leads nothing of it.
 */
function killNode(which: "leader" | "follower"): Disruption {
  let killedAt = 0;
  let killed = "";
  let electedAt: number | undefined;
  let ledAgainAt: number | undefined;
  let election: Promise<void> = Promise.resolve();
  const attemptsBefore = new Map<string, number>();
  const deliveries = (harness: Harness) =>
    harness.stack.names().filter((name) => name.startsWith("delivery"));

  return {
    what: `kill -9 of ${which === "leader" ? "the stream leader" : "a follower"} node`,
    downMs: 5_000,
    before: async (harness) => {
      for (const name of deliveries(harness)) {
        attemptsBefore.set(name, await harness.metricSum(name, ATTEMPTS));
      }
    },
    inject: async (harness, openPosts) => {
      const cluster = harness.cluster;
      if (cluster === undefined) throw new Error("node kills need the 3-node cluster");
      const stream = harness.dispatchStream();
      const leader = await cluster.streamLeader(stream);
      if (leader === undefined) throw new Error(`no leader for ${stream}`);
      const victim =
        which === "leader" ? leader : cluster.nodes.find((n) => n.name !== leader)?.name;
      if (victim === undefined) throw new Error("no follower node");
      const pending = await harness.ackPending();
      const posts = openPosts();
      killedAt = Date.now();
      killed = victim;
      await cluster.node(victim).kill();
      electedAt = undefined;
      ledAgainAt = undefined;
      const ours = `${harness.prefix.toUpperCase()}_`;
      election = (async () => {
        // Until the dispatch stream, and then every group of ours and the meta group, is led
        // by a running node: the elections this kill causes (a follower's causes few or none).
        while (Date.now() - killedAt < 60_000) {
          const leaders = (await cluster.leaders()).filter(
            (l) => l.group === "meta" || l.group.startsWith(ours),
          );
          const led = (l: { leader: string | undefined }) =>
            l.leader !== undefined && l.leader !== victim;
          const dispatch = leaders.find((l) => l.group === stream);
          if (electedAt === undefined && dispatch !== undefined && led(dispatch)) {
            electedAt = Date.now();
          }
          if (leaders.length > 0 && leaders.every(led)) {
            ledAgainAt = Date.now();
            electedAt ??= ledAgainAt;
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      return {
        inFlight: pending.total + posts,
        note: `killed ${victim} (${stream} leader: ${leader}); ${pending.total} unacked just before (${pending.detail}), ${posts} POSTs open`,
      };
    },
    repair: async (harness) => {
      await election;
      await harness.cluster?.node(killed).start();
    },
    report: async (harness, load: LoadRun) => {
      await election;
      const figures: [string, string][] = [];
      const checks: Check[] = [];
      const since = (t: number | undefined) => (t === undefined ? Number.NaN : t - killedAt);
      if (which === "leader")
        figures.push(["dispatch stream leader elected", ms(since(electedAt))]);
      figures.push(["every raft group led again", ms(since(ledAgainAt))]);
      const after = load.counters.unavailableAt.map((t) => t - killedAt);
      const windowEnd = since(ledAgainAt) + PUBLISH_TIMEOUT_MS;
      const outside = after.filter((t) => t < 0 || !(t <= windowEnd)).length;
      figures.push([
        "503s after the kill",
        after.length === 0
          ? "none"
          : `${after.length}, from +${ms(Math.min(...after))} to +${ms(Math.max(...after))}`,
      ]);
      checks.push({
        label:
          `503s only while elections run (+ ${PUBLISH_TIMEOUT_MS} ms publish timeout): ` +
          `${outside} outside`,
        ok: outside === 0 && ledAgainAt !== undefined,
      });
      const accepted = [...load.counters.acceptedAt].sort((a, b) => a - b);
      let gap = 0;
      for (let i = 1; i < accepted.length; i++) {
        gap = Math.max(gap, (accepted[i] ?? 0) - (accepted[i - 1] ?? 0));
      }
      figures.push(["longest pause between 202s", ms(gap)]);
      const deltas: string[] = [];
      let working = 0;
      for (const name of deliveries(harness)) {
        const delta = (await harness.metricSum(name, ATTEMPTS)) - (attemptsBefore.get(name) ?? 0);
        deltas.push(`${name} ${delta}`);
        if (delta > 0) working++;
      }
      figures.push(["attempts per delivery instance", deltas.join(", ")]);
      checks.push({
        label: `every delivery instance delivered (${deltas.join(", ")})`,
        ok: working === deliveries(harness).length && working >= 2,
      });
      return { figures, checks };
    },
  };
}

export const clusterScenarios: Scenario[] = [
  disrupted(
    "cluster-follower",
    "3-node cluster, R3: kill -9 of a follower node",
    killNode("follower"),
  ),
  disrupted(
    "cluster-leader",
    "3-node cluster, R3: kill -9 of the stream leader node",
    killNode("leader"),
  ),
];
