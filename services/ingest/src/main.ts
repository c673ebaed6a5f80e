import { hooklineNames } from "@hookline/contracts";
import {
  boundHeapGrowth,
  type ConsumerPump,
  type ControlService,
  checkSecretEncryptionEnv,
  connectNats,
  createControlClient,
  createLogger,
  createOpsEventEmitter,
  createServiceMetrics,
  drainOrClose,
  type EndpointCache,
  endpointPortPolicyFromEnv,
  installGracefulShutdown,
  loadEnvOrExit,
  type NatsLink,
  provisionOptionsFromEnv,
  provisionUntilDone,
  type ReadinessChecks,
  secretBoxFromEnv,
  serveHttp,
  startControlService,
  startEndpointCache,
  watchStreamUsage,
} from "@hookline/kit";
import { jetstream } from "@nats-io/jetstream";
import packageJson from "../package.json" with { type: "json" };
import { createIngestApp, createStartingApp } from "./app";
import { ingestEnvShape } from "./config";
import { createEndpointRegistry } from "./endpoints/registry";
import { endpointSealer } from "./endpoints/secrets";
import { type BacklogQuotas, startBacklogQuotas } from "./events/backlog-quotas";
import { createEventPublisher, DEFAULT_PUBLISH_TIMEOUT_MS } from "./events/publisher";
import { pubAckTaskPublisher } from "./events/task-publisher";
import { keyHistoryPurger } from "./kv/key-history";
import { createIngestMetrics, type EndpointStateCounts } from "./metrics";
import { createBreakerOperations } from "./operations/breakers";
import { createSystemHealthReader } from "./operations/system-health";
import { endpointTransitionEvent } from "./ops-events/endpoint-transitions";
import { startOpsEventConsumer } from "./ops-events/ops-consumer";
import { ensureSystemTenant } from "./ops-events/system-tenant";
import { tenantBucket } from "./tenants/bucket";
import { createTenantRegistry } from "./tenants/registry";
import { startTenantView, type TenantView } from "./tenants/tenant-view";

const SERVICE = "ingest";
/** The webhook body wraps the payload in type and timestamp, a little more than the request. */
const ENVELOPE_ROOM_BYTES = 1_024;
/** NATS counts headers into max_payload; task headers are well under this. */
const HEADER_ROOM_BYTES = 8_192;

function endpointStates(cache: EndpointCache): EndpointStateCounts {
  let disabled = 0;
  const all = cache.all();
  for (const { record } of all) if (record.disabled) disabled++;
  return { enabled: all.length - disabled, disabled };
}

async function main(): Promise<void> {
  const env = loadEnvOrExit(SERVICE, ingestEnvShape, checkSecretEncryptionEnv);
  boundHeapGrowth(env.HEAP_GROWTH_PERCENT);
  const logger = createLogger({ service: SERVICE, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  const secretBox = secretBoxFromEnv(env, logger);
  const metrics = createServiceMetrics(SERVICE);

  // Filled in as start-up proceeds; readiness and shutdown look at what exists so far.
  let link: NatsLink | undefined;
  let provisioned = false;
  let cache: EndpointCache | undefined;
  let tenants: TenantView | undefined;
  let stopStreamUsage: (() => void) | undefined;
  let quotas: BacklogQuotas | undefined;
  let control: ControlService | undefined;
  let opsEvents: ConsumerPump | undefined;
  let stopping = false;
  const readiness: ReadinessChecks = {
    nats: () => link?.isConnected() ?? false,
    provisioned: () => provisioned,
    endpointCache: () => cache?.isReady() ?? false,
    tenants: () => tenants?.isReady() ?? false,
  };
  const ingestMetrics = createIngestMetrics(metrics, () =>
    cache === undefined ? undefined : endpointStates(cache),
  );

  const limits = {
    maxBodyBytes: env.INGEST_MAX_BODY_BYTES,
    maxBatchBytes: env.INGEST_MAX_BATCH_BYTES,
  };
  // Serve health checks at once; the API app replaces the starting app once NATS is ready.
  let app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> } =
    createStartingApp({
      logger,
      metrics,
      readiness,
      limits,
    });
  // The env (@hono/node-server's incoming and outgoing) is passed on: the event routes' fast
  // path reads headers from Node's IncomingMessage.
  const server = await serveHttp(
    { fetch: (request: Request, nodeEnv?: unknown) => app.fetch(request, nodeEnv) },
    env.PORT,
  );
  logger.info({ port: server.port }, "listening");

  installGracefulShutdown({
    logger,
    timeoutMs: env.SHUTDOWN_TIMEOUT,
    steps: [
      // First: operators' reads stop counting an instance that is going away.
      { name: "stop control service", run: () => control?.stop() },
      {
        name: "close http",
        run: () => {
          stopping = true;
          return server.close();
        },
      },
      { name: "stop endpoint cache", run: () => cache?.stop() },
      { name: "stop tenant view", run: () => tenants?.stop() },
      { name: "stop stream usage", run: () => stopStreamUsage?.() },
      { name: "stop backlog quotas", run: () => quotas?.stop() },
      { name: "stop operational events", run: () => opsEvents?.stop() },
      { name: "drain nats", run: () => drainOrClose(link) },
    ],
  });

  try {
    link = await connectNats({ url: env.NATS_URL, auth: env, name: `hookline-${SERVICE}`, logger });
    const names = hooklineNames(env.HOOKLINE_PREFIX);
    const nc = link.nc;
    // Registered before provisioning, so operators see an instance that is not ready yet.
    control = await startControlService({
      nc,
      prefix: names.prefix,
      service: SERVICE,
      version: packageJson.version,
      readiness,
      logger,
    });
    const controlClient = createControlClient({
      nc,
      prefix: names.prefix,
      timeoutMs: env.INGEST_CONTROL_TIMEOUT,
    });
    const jetStream = await provisionUntilDone({
      nc,
      options: provisionOptionsFromEnv(env, names),
      mode: env.HOOKLINE_PROVISION,
      logger,
      stopping: () => stopping,
      // Only ingest uses the tenants bucket, so only ingest (and the provision step) creates it.
      after: async (jsm, mode) => ({
        tenantsKv: await tenantBucket(nc, jsm, names, mode, env.JETSTREAM_REPLICAS),
      }),
    });
    // SIGTERM during start-up: shutdown has begun, so start nothing more.
    if (jetStream === undefined || stopping) return;
    provisioned = true;
    // Every service watches every stream's usage (kit's watchStreamUsage says why); ingest
    // writes DISPATCH, the stream its 503s come from.
    stopStreamUsage = watchStreamUsage({
      jsm: jetStream.jsm,
      metrics,
      streams: Object.values(names.streams),
      logger,
    });
    const kv = jetStream.endpoints;
    const js = jetstream(link.nc);
    const opsEmitter = createOpsEventEmitter({ js, names, logger, kinds: env.OPS_EVENTS });
    // Every disabled flag turned on or off, by the API or the classifier, passes this watch.
    const endpointCache = await startEndpointCache(kv, logger, {
      onChange: (change) => {
        const event = endpointTransitionEvent(change, Date.now(), env.OPS_EVENTS_TENANT);
        if (event !== undefined) void opsEmitter.emit(event);
      },
    });
    cache = endpointCache;
    await endpointCache.ready;
    if (stopping) return;
    const tenantView = await startTenantView(jetStream.tenantsKv, logger);
    tenants = tenantView;
    await tenantView.ready;
    if (stopping) return;

    quotas = startBacklogQuotas({ jsm: jetStream.jsm, names, cache: endpointCache, logger });

    const maxPayload = link.nc.info?.max_payload ?? 1024 * 1024;
    const maxEventBytes = Math.min(
      env.INGEST_MAX_BODY_BYTES + ENVELOPE_ROOM_BYTES,
      maxPayload - HEADER_ROOM_BYTES,
    );
    if (maxEventBytes < env.INGEST_MAX_BODY_BYTES) {
      logger.warn(
        { maxPayload, maxBodyBytes: env.INGEST_MAX_BODY_BYTES, maxEventBytes },
        "INGEST_MAX_BODY_BYTES exceeds what NATS takes in one message; larger events get 413",
      );
    }

    const registry = createEndpointRegistry({
      kv,
      cache: endpointCache,
      isConnected: link.isConnected,
      logger,
      backlogQuotaLimit: env.ENDPOINT_BACKLOG_QUOTA,
      longestRetryTierMs: Math.max(...env.RETRY_TIERS),
      sealer: endpointSealer(secretBox),
      purgeHistory: keyHistoryPurger(jetStream.jsm, names.kv.endpoints),
    });
    const tenantRegistry = createTenantRegistry({
      kv: jetStream.tenantsKv,
      view: tenantView,
      endpoints: registry,
      endpointCache,
      isConnected: link.isConnected,
      logger,
    });
    const events = createEventPublisher({
      js,
      tasks: pubAckTaskPublisher(link.nc, DEFAULT_PUBLISH_TIMEOUT_MS),
      names,
      cache: endpointCache,
      isConnected: link.isConnected,
      metrics: ingestMetrics,
      logger,
      taskDeadlineMs: env.TASK_DEADLINE,
      maxEventBytes,
      quotas,
      systemTenantId: env.OPS_EVENTS_TENANT,
    });
    app = createIngestApp({
      logger,
      metrics,
      ingestMetrics,
      readiness,
      tokens: env.INGEST_API_TOKENS,
      limits,
      endpointPorts: endpointPortPolicyFromEnv(env),
      registry,
      cache: endpointCache,
      tenants: tenantView,
      tenantRegistry,
      secretBox,
      events,
      breakers: createBreakerOperations({ control: controlClient }),
      systemHealth: createSystemHealthReader({ control: controlClient, jsm: jetStream.jsm, names }),
    });
    await ensureSystemTenant({
      tenantId: env.OPS_EVENTS_TENANT,
      view: tenantView,
      registry: tenantRegistry,
      logger,
    });
    if (stopping) return;
    opsEvents = startOpsEventConsumer({
      js,
      names,
      events,
      links: { ingest: env.OPS_LINK_INGEST_URL, dlq: env.OPS_LINK_DLQ_URL },
      systemTenantId: env.OPS_EVENTS_TENANT,
      metrics,
      logger,
    });
    logger.info({ prefix: names.prefix, endpoints: endpointCache.all().length }, "ingest ready");
  } catch (error) {
    // Shutdown drains NATS under a start-up still in progress.
    if (stopping) return;
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${SERVICE}: failed to start: ${String(error)}\n`);
  process.exit(1);
});
