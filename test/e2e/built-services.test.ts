import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type NatsServerHandle,
  type PostgresHandle,
  pollUntil,
  repoRoot,
  type Sink,
  type Stack,
  startNatsServer,
  startPostgres,
  startSink,
  startStack,
} from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeadLetter, type DlqClient, dlqClient } from "../support/dlq-client";
import { type IngestClient, ingestClient } from "../support/ingest-client";

// The four services as production runs them: the bundles of `pnpm build` (services/<name>/dist,
// `node --enable-source-maps dist/main.js`), with no tsx. `npm test` builds them first.
const services = ["ingest", "delivery", "classifier", "dlq"] as const;
const ingestToken = "e2e-built-ingest-token";
const opsToken = "e2e-built-ops-token";

let nats: NatsServerHandle | undefined;
let pg: PostgresHandle | undefined;
let sink: Sink | undefined;
let stack: Stack | undefined;
let ingest: IngestClient;
let dlq: DlqClient;

beforeAll(async () => {
  const root = repoRoot();
  const unbuilt = services.filter(
    (name) => !existsSync(join(root, "services", name, "dist", "main.js")),
  );
  if (unbuilt.length > 0) {
    throw new Error(`no dist/main.js for ${unbuilt.join(", ")}: run \`pnpm build\` first`);
  }
  [nats, pg, sink] = await Promise.all([startNatsServer(), startPostgres(), startSink()]);
  stack = await startStack({
    natsUrl: nats.url,
    services: [...services],
    runtime: "built",
    prefix: "e2ebuilt",
    env: {
      INGEST_API_TOKENS: `e2e:${ingestToken}`,
      DELIVERY_ALLOW_PRIVATE_NETWORKS: "true",
    },
    serviceEnv: { dlq: { DATABASE_URL: pg.url, DLQ_API_TOKENS: `ops:${opsToken}` } },
  });
  ingest = ingestClient(stack.url("ingest"), ingestToken);
  dlq = dlqClient(stack.url("dlq"), opsToken);
});

afterAll(async () => {
  await stack?.stop();
  await sink?.close();
  await Promise.all([nats?.stop(), pg?.stop()]);
});

describe("the built services", () => {
  it("run from dist/main.js with source maps, without tsx", () => {
    for (const name of services) {
      const argv = readFileSync(`/proc/${stack?.pid(name)}/cmdline`, "utf8").split("\0");
      expect(argv.slice(1, 3), name).toEqual([
        "--enable-source-maps",
        join(repoRoot(), "services", name, "dist", "main.js"),
      ]);
      expect(argv.join(" "), name).not.toContain("tsx");
    }
  });

  it("deliver a webhook that verifies, and dead-letter a refused one into Postgres", async () => {
    if (sink === undefined) throw new Error("beforeAll did not start the sink");
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/built"),
      eventTypes: ["order.created"],
    });
    sink.setSecrets("/built", [endpoint.secret]);
    const posted = await ingest.postEvent({
      eventType: "order.created",
      payload: { orderId: "o_built", total: 42 },
    });
    expect(posted.status).toBe(202);
    const [delivery] = await sink.waitFor(1, { path: "/built" });
    expect(delivery?.verified).toBe(true);
    expect(delivery?.webhookId).toBe(posted.json.eventId);
    expect(delivery?.json).toMatchObject({ type: "order.created", data: { orderId: "o_built" } });

    // A 400 is not retried: delivery → classifier → dlq → Postgres.
    sink.setDefault("/built", { status: 400 });
    expect((await ingest.postEvent({ eventType: "order.created", payload: {} })).status).toBe(202);
    let letters: DeadLetter[] = [];
    await pollUntil(
      async () => {
        letters = (await dlq.list({ endpointId: endpoint.id })).json.data;
        return letters.length === 1;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: "the dead letter in the dlq" },
    );
    expect(letters[0]).toMatchObject({ reason: "non_retryable", lastStatus: 400 });
  });

  it("log one JSON object per line, each naming its service", async () => {
    if (stack === undefined) throw new Error("beforeAll did not start the services");
    // Stopping flushes the services' asynchronous log destinations.
    await stack.stop();
    for (const name of services) {
      const lines = stack.logs(name).filter((line) => line.trim() !== "");
      expect(lines.length, name).toBeGreaterThan(0);
      const notJson = lines.filter((line) => {
        try {
          const record: unknown = JSON.parse(line);
          return (record as { service?: unknown } | null)?.service !== name;
        } catch {
          return true;
        }
      });
      expect(notJson, `${name}: lines that are not its JSON records`).toEqual([]);
      expect(
        lines.some((line) => line.includes('"msg":"stopped"')),
        name,
      ).toBe(true);
    }
  });
});
