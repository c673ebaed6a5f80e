import { hooklineNames } from "@hookline/contracts";
import {
  boundHeapGrowth,
  type ControlService,
  connectNats,
  createEndpointWriter,
  createLogger,
  createServiceApp,
  createServiceMetrics,
  drainOrClose,
  type EndpointCache,
  installGracefulShutdown,
  loadEnvOrExit,
  type NatsLink,
  NotProvisionedError,
  provisionOptionsFromEnv,
  provisionUntilDone,
  type ReadinessChecks,
  serveHttp,
  startControlService,
  startEndpointCache,
  watchConsumerBacklog,
} from "@hookline/kit";
import { jetstream } from "@nats-io/jetstream";
import packageJson from "../package.json" with { type: "json" };
import { type RunningClassifier, startClassifier } from "./classifier";
import { classifierEnvShape, retryPolicyFromEnv } from "./config";
import { createClassifierMetrics } from "./metrics";
import { createEndpointDisabler } from "./outcomes/endpoint-disabler";
import { createEndpointHealth } from "./outcomes/endpoint-health";
import {
  ensureTierConsumers,
  formerTierConsumers,
  verifyTierConsumers,
} from "./tiers/tier-consumers";

const SERVICE = "classifier";

async function main(): Promise<void> {
  const env = loadEnvOrExit(SERVICE, classifierEnvShape, retryPolicyFromEnv);
  boundHeapGrowth(env.HEAP_GROWTH_PERCENT);
  const logger = createLogger({ service: SERVICE, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  const serviceMetrics = createServiceMetrics(SERVICE);
  const metrics = createClassifierMetrics(serviceMetrics);
  const names = hooklineNames(env.HOOKLINE_PREFIX);
  const policy = retryPolicyFromEnv(env);

  // Filled in as start-up progresses; readiness and shutdown look at what exists so far, so
  // /healthz answers and SIGTERM works even while NATS is not there yet.
  const started: {
    link?: NatsLink;
    provisioned: boolean;
    endpoints?: EndpointCache;
    classifier?: RunningClassifier;
    stopBacklog?: () => void;
    control?: ControlService;
  } = { provisioned: false };

  const readiness: ReadinessChecks = {
    nats: () => started.link?.isConnected() ?? false,
    provisioned: () => started.provisioned,
    endpointCache: () => started.endpoints?.isReady() ?? false,
  };
  const app = createServiceApp({ logger, metrics: serviceMetrics, readiness });
  const server = await serveHttp(app, env.PORT);
  logger.info(
    { port: server.port, tiers: env.RETRY_TIERS.map((tier) => tier.name) },
    "classifier listening",
  );

  let stopping = false;
  installGracefulShutdown({
    logger,
    timeoutMs: env.SHUTDOWN_TIMEOUT,
    steps: [
      // First: operators' reads stop counting an instance that is going away.
      { name: "stop control service", run: () => started.control?.stop() },
      {
        name: "stop consumers",
        run: async () => {
          stopping = true;
          started.stopBacklog?.();
          await started.classifier?.stop();
        },
      },
      { name: "stop endpoint watch", run: () => started.endpoints?.stop() },
      { name: "drain nats", run: () => drainOrClose(started.link) },
      { name: "close http", run: () => server.close() },
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
  const provisioned = await provisionUntilDone({
    nc: link.nc,
    options: provisionOptionsFromEnv(env, names),
    mode: env.HOOKLINE_PROVISION,
    logger,
    stopping: () => stopping,
    // The tiers are the classifier's own: the shared provisioning does not know them.
    after: async (jsm, mode) => {
      if (mode === "apply") {
        await ensureTierConsumers(jsm, names, env.RETRY_TIERS, env.RETRY_TIER_MAX_ACK_PENDING);
      } else {
        const check = await verifyTierConsumers(jsm, names, env.RETRY_TIERS);
        if (check.outcome === "missing") throw new NotProvisionedError(check.resource);
      }
      const former = await formerTierConsumers(jsm, names, env.RETRY_TIERS);
      const prefix = names.consumers.retryTier("");
      return { formerTiers: former.map((name) => name.slice(prefix.length)) };
    },
  });
  if (!provisioned || stopping) return;
  started.provisioned = true;
  if (provisioned.formerTiers.length > 0) {
    logger.info(
      { formerTiers: provisioned.formerTiers },
      "tiers no longer in RETRY_TIERS keep draining; delete their consumers once empty",
    );
  }
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
  if (stopping) return;
  const classifier = startClassifier({
    js: jetstream(link.nc),
    jsm: provisioned.jsm,
    nc: link.nc,
    names,
    endpoints,
    disabler: createEndpointDisabler({ kv: provisioned.endpoints, endpoints }),
    health: createEndpointHealth({
      writer: createEndpointWriter({ kv: provisioned.endpoints, endpoints }),
      disableAfterMs: env.ENDPOINT_DISABLE_AFTER,
      metrics,
      logger,
    }),
    policy,
    concurrency: env.CLASSIFIER_CONCURRENCY,
    tierMaxAckPending: env.RETRY_TIER_MAX_ACK_PENDING,
    formerTiers: provisioned.formerTiers,
    serviceMetrics,
    metrics,
    logger,
  });
  started.classifier = classifier;
  started.stopBacklog = watchConsumerBacklog({
    jsm: provisioned.jsm,
    metrics: serviceMetrics,
    consumers: classifier.consumers,
    // Every service watches every stream's usage: kit's watchStreamUsage says why.
    streams: Object.values(names.streams),
    logger,
  });
}

await main();
