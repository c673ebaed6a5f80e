// The dev runner behind `npm run dev`: NATS, the services and a demo receiver on this machine,
// with pretty logs. Ctrl-C stops everything it started.
import { join } from "node:path";
import {
  type NatsServerHandle,
  type PostgresHandle,
  preferredOrFreePort,
  repoRoot,
  type Sink,
  type Stack,
  startEmbeddedPostgres,
  startNatsServer,
  startSink,
  startStack,
} from "@hookline/testkit";

const root = repoRoot();
const env = process.env;
const ingestToken = env.DEV_INGEST_TOKEN ?? "dev-ingest-token";
const opsToken = env.DEV_OPS_TOKEN ?? "dev-ops-token";
const demoSecret = env.DEMO_SECRET ?? "whsec_aG9va2xpbmUtZGVtby1yZWNlaXZlci1zZWNyZXQ=";
/**
 * FAKE DEVELOPMENT KEY, public: fixed rather than generated, so the endpoints kept in a local
 * NATS still open after a restart. Only ingest and delivery get it, as in a deployment.
 */
const devEncryptionKeys =
  env.HOOKLINE_ENCRYPTION_KEYS ??
  `dev:${Buffer.from("hookline-dev-encryption-key-32b!").toString("base64")}`;
const withSecrets = new Set(["ingest", "delivery"]);
const services = ["ingest", "delivery", "classifier", "dlq"];
const servicePorts: Record<string, string> = {
  ingest: env.INGEST_PORT ?? "8080",
  delivery: env.DELIVERY_PORT ?? "8081",
  classifier: env.CLASSIFIER_PORT ?? "8082",
  dlq: env.DLQ_PORT ?? "8083",
};

const colors = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m"];
const reset = "\x1b[0m";
const tag = (name: string, index: number) =>
  `${colors[index % colors.length]}${name.padEnd(8)}${reset}`;

let nats: NatsServerHandle | undefined;
let postgres: PostgresHandle | undefined;
let sink: Sink | undefined;
let stack: Stack | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nstopping…");
    await stack?.stop();
    await sink?.close();
    await nats?.stop();
    await postgres?.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

async function main(): Promise<void> {
  let natsUrl = env.NATS_URL;
  if (!natsUrl) {
    nats = await startNatsServer({
      storeDir: join(root, ".data", "nats"),
      preferredPorts: { client: 4222, monitor: 8222 },
    });
    natsUrl = nats.url;
  }

  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    postgres = await startEmbeddedPostgres({
      keepIn: join(root, ".data", "postgres"),
      preferredPort: 54329,
    });
    databaseUrl = postgres.url;
  }

  const demoPort = await preferredOrFreePort(Number(env.DEMO_RECEIVER_PORT ?? 9000));
  sink = await startSink({
    port: demoPort,
    log: (line) => console.log(`${tag("receiver", 4)} ${line}`),
  });
  sink.setSecrets("/webhooks", [demoSecret]);

  stack = await startStack({
    natsUrl,
    services,
    prefix: env.HOOKLINE_PREFIX ?? "hookline",
    env: {
      INGEST_API_TOKENS: env.INGEST_API_TOKENS ?? `dev:${ingestToken}`,
      DELIVERY_ALLOW_PRIVATE_NETWORKS: env.DELIVERY_ALLOW_PRIVATE_NETWORKS ?? "true",
      LOG_PRETTY: env.LOG_PRETTY ?? "true",
      LOG_LEVEL: env.LOG_LEVEL ?? "info",
    },
    serviceEnv: {
      ...Object.fromEntries(
        services.map((name) => [
          name,
          {
            PORT: servicePorts[name] ?? "0",
            ...(withSecrets.has(name) ? { HOOKLINE_ENCRYPTION_KEYS: devEncryptionKeys } : {}),
          },
        ]),
      ),
      dlq: {
        PORT: servicePorts.dlq ?? "8083",
        DATABASE_URL: databaseUrl,
        DLQ_API_TOKENS: env.DLQ_API_TOKENS ?? `ops:${opsToken}`,
      },
    },
    onLog: (service, line) => console.log(`${tag(service, services.indexOf(service))} ${line}`),
  });

  const ingest = stack.url("ingest");
  const demoTenant = await ensureDemoTenant(ingest);
  console.log(`
Hookline is running.

  ingest API      ${ingest}            token: ${ingestToken}
  API reference   ${ingest}/docs
  delivery        ${stack.url("delivery")}/metrics
  classifier      ${stack.url("classifier")}/metrics
  dead letters    ${stack.url("dlq")}/v1/dead-letters   token: ${opsToken}   docs: ${stack.url("dlq")}/docs
  Postgres        ${postgres ? "embedded, in .data/postgres" : "from DATABASE_URL"}
  NATS            ${natsUrl}${nats ? `   monitor: ${nats.monitorUrl}` : " (from NATS_URL)"}
  demo receiver   ${sink.url("/webhooks")}
                  its secret: ${demoSecret}

Try it (tenant "${demoTenant}"; /v1/endpoints and /v1/events act for the "default" tenant):
  curl -s -X POST ${ingest}/v1/tenants/${demoTenant}/endpoints -H 'authorization: Bearer ${ingestToken}' \\
    -H 'content-type: application/json' \\
    -d '{"url":"${sink.url("/webhooks")}","eventTypes":["order.created"],"secret":"${demoSecret}"}'
  curl -s -X POST ${ingest}/v1/tenants/${demoTenant}/events -H 'authorization: Bearer ${ingestToken}' \\
    -H 'content-type: application/json' \\
    -d '{"eventType":"order.created","payload":{"orderId":"o_1","total":42}}'

Ctrl-C stops everything.
`);
}

/** The `demo` tenant the examples use; one from an earlier run (409) is kept as it is. */
async function ensureDemoTenant(ingest: string): Promise<string> {
  const id = "demo";
  const response = await fetch(`${ingest}/v1/tenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${ingestToken}`, "content-type": "application/json" },
    body: JSON.stringify({ id, name: "Demo" }),
  });
  if (response.status !== 201 && response.status !== 409) {
    // A custom INGEST_API_TOKENS may not hold the dev token: the runner still runs.
    console.warn(`could not create the demo tenant: ${response.status} ${await response.text()}`);
  }
  return id;
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await stopAll(1);
});
