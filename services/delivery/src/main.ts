import { DEFAULT_TENANT_ID, hooklineNames, tenantOfEndpoint } from "@hookline/contracts";
import {
  boundHeapGrowth,
  type ControlService,
  checkSecretEncryptionEnv,
  connectNats,
  createEndpointWriter,
  createLogger,
  createOpsEventEmitter,
  createServiceApp,
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
} from "@hookline/kit";
import { jetstream } from "@nats-io/jetstream";
import packageJson from "../package.json" with { type: "json" };
import { deliveryEnvShape } from "./config";
import { answerBreakerControl } from "./control/breaker-control";
import { type RunningDelivery, startDelivery } from "./delivery";
import { breakerOpsEvent } from "./guards/breaker-events";
import type { BreakerState } from "./guards/endpoint-breaker";
import { createEndpointGuards } from "./guards/endpoint-guards";
import { createWebhookClient } from "./http/webhook-client";
import { createDeliveryMetrics } from "./metrics";
import { createEndpointCredentials } from "./signing/endpoint-credentials";

const SERVICE = "delivery";

async function main(): Promise<void> {
  const env = loadEnvOrExit(SERVICE, deliveryEnvShape, checkSecretEncryptionEnv);
  boundHeapGrowth(env.HEAP_GROWTH_PERCENT);

  const logger = createLogger({ service: SERVICE, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  // Sealed secrets and header values are opened per endpoint on first use, in memory only.
  const credentials = createEndpointCredentials(secretBoxFromEnv(env, logger));
  const serviceMetrics = createServiceMetrics(SERVICE);
  const metrics = createDeliveryMetrics(serviceMetrics);
  const names = hooklineNames(env.HOOKLINE_PREFIX);
  const provisionOptions = provisionOptionsFromEnv(env, names);

  if (env.DELIVERY_ALLOW_PRIVATE_NETWORKS) {
    logger.warn("DELIVERY_ALLOW_PRIVATE_NETWORKS is on: webhooks may reach private addresses");
  }

  const client = createWebhookClient({
    connectTimeoutMs: env.DELIVERY_CONNECT_TIMEOUT,
    allowPrivateNetworks: env.DELIVERY_ALLOW_PRIVATE_NETWORKS,
    endpointPorts: endpointPortPolicyFromEnv(env),
  });
  // Set once NATS and the endpoint cache are there; breakers seldom move before tasks flow.
  let announceBreaker:
    | ((endpointId: string, to: BreakerState, from: BreakerState) => void)
    | undefined;
  const guards = createEndpointGuards({
    send: client.send,
    breaker: {
      errorThresholdPercentage: env.DELIVERY_BREAKER_ERROR_THRESHOLD,
      volumeThreshold: env.DELIVERY_BREAKER_VOLUME_THRESHOLD,
      resetTimeoutMs: env.DELIVERY_BREAKER_RESET_TIMEOUT,
      windowMs: env.DELIVERY_BREAKER_WINDOW,
    },
    cacheSize: env.DELIVERY_BREAKER_CACHE_SIZE,
    metrics,
    logger,
    onBreakerTransition: (endpointId, to, from) => announceBreaker?.(endpointId, to, from),
  });

  // Filled in as start-up progresses; readiness and shutdown look at what exists so far, so
  // /healthz answers and SIGTERM works even while NATS is not there yet.
  const started: {
    link?: NatsLink;
    provisioned: boolean;
    endpoints?: EndpointCache;
    delivery?: RunningDelivery;
    control?: ControlService;
  } = { provisioned: false };

  const readiness: ReadinessChecks = {
    nats: () => started.link?.isConnected() ?? false,
    provisioned: () => started.provisioned,
    endpointCache: () => started.endpoints?.isReady() ?? false,
  };
  const app = createServiceApp({ logger, metrics: serviceMetrics, readiness });
  const server = await serveHttp(app, env.PORT);
  logger.info({ port: server.port }, "delivery listening");

  let stopping = false;
  installGracefulShutdown({
    logger,
    timeoutMs: env.SHUTDOWN_TIMEOUT,
    steps: [
      // First: operators' reads stop counting an instance that is going away.
      { name: "stop control service", run: () => started.control?.stop() },
      {
        name: "stop lanes",
        run: async () => {
          stopping = true;
          // Without NATS nothing in flight can be acked (JetStream redelivers it after
          // ack_wait): closing the connection first ends what waits on it now, not at the
          // shutdown deadline.
          const link = started.link;
          if (link !== undefined && !link.isConnected()) await link.nc.close();
          await started.delivery?.stop();
        },
      },
      { name: "stop endpoint watch", run: () => started.endpoints?.stop() },
      { name: "drain nats", run: () => drainOrClose(started.link) },
      { name: "stop circuit breakers", run: () => guards.close() },
      { name: "close http", run: () => server.close() },
      { name: "close webhook client", run: () => client.close() },
    ],
  });

  const link = await connectNats({ url: env.NATS_URL, auth: env, name: SERVICE, logger });
  started.link = link;
  // Registered before provisioning, so operators see an instance that is not ready yet.
  started.control = await startControlService({
    nc: link.nc,
    prefix: env.HOOKLINE_PREFIX,
    service: SERVICE,
    version: packageJson.version,
    readiness,
    logger,
  });
  await answerBreakerControl(started.control, guards);
  const provisioned = await provisionUntilDone({
    nc: link.nc,
    options: provisionOptions,
    mode: env.HOOKLINE_PROVISION,
    logger,
    stopping: () => stopping,
  });
  if (provisioned && !stopping) {
    started.provisioned = true;
    let endpoints: EndpointCache;
    try {
      endpoints = await startEndpointCache(provisioned.endpoints, logger);
      started.endpoints = endpoints;
      await endpoints.ready;
    } catch (error) {
      // Shutdown closes NATS under a start-up still in progress: that is no failure.
      if (stopping) return;
      throw error;
    }
    if (!stopping) {
      const opsEmitter = createOpsEventEmitter({
        js: jetstream(link.nc),
        names,
        logger,
        kinds: env.OPS_EVENTS,
      });
      announceBreaker = (endpointId, to, from) => {
        const record = endpoints.get(endpointId)?.record;
        const tenantId = record === undefined ? DEFAULT_TENANT_ID : tenantOfEndpoint(record);
        if (tenantId === env.OPS_EVENTS_TENANT) return;
        const event = breakerOpsEvent({ endpointId, tenantId, from, to, now: Date.now() });
        if (event !== undefined) void opsEmitter.emit(event);
      };
      started.delivery = startDelivery({
        nc: link.nc,
        js: jetstream(link.nc),
        jsm: provisioned.jsm,
        names,
        provision: provisionOptions,
        endpoints,
        endpointWriter: createEndpointWriter({ kv: provisioned.endpoints, endpoints }),
        guards,
        credentials,
        serviceMetrics,
        metrics,
        logger,
        maxInFlight: env.DELIVERY_MAX_IN_FLIGHT,
        retryShare: env.DELIVERY_RETRY_SHARE,
        ackWaitMs: provisionOptions.deliveryAckWaitMs,
        fairness: {
          endpointMaxInFlight: env.DELIVERY_ENDPOINT_MAX_IN_FLIGHT,
          endpointMaxHeld: env.DELIVERY_ENDPOINT_MAX_HELD,
          maxHeld: env.DELIVERY_MAX_HELD,
          endpointLookupTimeoutMs: env.DELIVERY_ENDPOINT_LOOKUP_TIMEOUT,
        },
      });
    }
  }
}

await main();
