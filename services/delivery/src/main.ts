import { hooklineNames } from "@hookline/contracts";
import {
  booleanEnv,
  commonEnvShape,
  connectNats,
  createLogger,
  createServiceApp,
  createServiceMetrics,
  durationEnv,
  type EndpointCache,
  installGracefulShutdown,
  loadEnvOrExit,
  type NatsLink,
  portEnv,
  provisionOptionsFromEnv,
  provisionUntilDone,
  serveHttp,
  startEndpointCache,
} from "@hookline/kit";
import { jetstream } from "@nats-io/jetstream";
import { z } from "zod";
import { type RunningDelivery, startDelivery } from "./delivery";
import { createEndpointGuards } from "./guards/endpoint-guards";
import { createWebhookClient } from "./http/webhook-client";
import { createDeliveryMetrics } from "./metrics";

const SERVICE = "delivery";

async function main(): Promise<void> {
  const env = loadEnvOrExit(SERVICE, {
    ...commonEnvShape,
    PORT: portEnv.default(8081),
    /** Tasks handled at once, both lanes together. */
    DELIVERY_MAX_IN_FLIGHT: z.coerce.number().int().min(2).max(100_000).default(256),
    /** The retry lane's share of DELIVERY_MAX_IN_FLIGHT; the fresh lane gets the rest. */
    DELIVERY_RETRY_SHARE: z.coerce.number().gt(0).lt(1).default(0.25),
    DELIVERY_CONNECT_TIMEOUT: durationEnv.default(5_000),
    /** Lets webhooks reach private and loopback addresses: tests and the dev runner only. */
    DELIVERY_ALLOW_PRIVATE_NETWORKS: booleanEnv.default(false),
    /** Endpoints whose circuit breaker and rate limiter are kept (LRU). */
    DELIVERY_BREAKER_CACHE_SIZE: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
    /** A breaker opens when more than this percentage of requests in the window failed (100: never). */
    DELIVERY_BREAKER_ERROR_THRESHOLD: z.coerce.number().gt(0).max(100).default(50),
    /** Requests the window must hold before a breaker may open. */
    DELIVERY_BREAKER_VOLUME_THRESHOLD: z.coerce.number().int().min(1).max(1_000_000).default(10),
    /** How long a breaker stays open before one probe is let through. */
    DELIVERY_BREAKER_RESET_TIMEOUT: durationEnv
      .pipe(z.number().min(1, "at least 1ms"))
      .default(30_000),
    /** The rolling window the failure rate is taken over. */
    DELIVERY_BREAKER_WINDOW: durationEnv
      .pipe(z.number().min(100, "at least 100ms"))
      .default(10_000),
  });

  const logger = createLogger({ service: SERVICE, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
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
  });
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
  });

  // Filled in as start-up progresses; readiness and shutdown look at what exists so far, so
  // /healthz answers and SIGTERM works even while NATS is not there yet.
  const started: {
    link?: NatsLink;
    provisioned: boolean;
    endpoints?: EndpointCache;
    delivery?: RunningDelivery;
  } = { provisioned: false };

  const app = createServiceApp({
    logger,
    metrics: serviceMetrics,
    readiness: {
      nats: () => started.link?.isConnected() ?? false,
      provisioned: () => started.provisioned,
      endpointCache: () => started.endpoints?.isReady() ?? false,
    },
  });
  const server = await serveHttp(app, env.PORT);
  logger.info({ port: server.port }, "delivery listening");

  let stopping = false;
  installGracefulShutdown({
    logger,
    timeoutMs: env.SHUTDOWN_TIMEOUT,
    steps: [
      {
        name: "stop lanes",
        run: async () => {
          stopping = true;
          await started.delivery?.stop();
        },
      },
      { name: "stop endpoint watch", run: () => started.endpoints?.stop() },
      {
        name: "drain nats",
        run: () => {
          const link = started.link;
          if (!link || link.nc.isClosed()) return undefined;
          // Without a connection there is nothing to drain; unacked tasks are redelivered.
          return link.isConnected() ? link.nc.drain() : link.nc.close();
        },
      },
      { name: "stop circuit breakers", run: () => guards.close() },
      { name: "close http", run: () => server.close() },
      { name: "close webhook client", run: () => client.close() },
    ],
  });

  const link = await connectNats({ url: env.NATS_URL, name: SERVICE, logger });
  started.link = link;
  const provisioned = await provisionUntilDone({
    nc: link.nc,
    options: provisionOptions,
    logger,
    stopping: () => stopping,
  });
  if (provisioned && !stopping) {
    started.provisioned = true;
    const endpoints = await startEndpointCache(provisioned.endpoints, logger);
    started.endpoints = endpoints;
    await endpoints.ready;
    if (!stopping) {
      started.delivery = startDelivery({
        nc: link.nc,
        js: jetstream(link.nc),
        jsm: provisioned.jsm,
        names,
        endpoints,
        guards,
        serviceMetrics,
        metrics,
        logger,
        maxInFlight: env.DELIVERY_MAX_IN_FLIGHT,
        retryShare: env.DELIVERY_RETRY_SHARE,
        ackWaitMs: provisionOptions.deliveryAckWaitMs,
      });
    }
  }
}

await main();
