import {
  defaultProvisionOptions,
  type HooklineNames,
  hooklineNames,
  type ProvisionOptions,
  provision,
} from "@hookline/contracts";
import {
  connectNats,
  createLogger,
  createServiceApp,
  createServiceMetrics,
  type EndpointCache,
  installGracefulShutdown,
  type Logger,
  loadEnvOrExit,
  type NatsLink,
  serveHttp,
  startEndpointCache,
  watchConsumerBacklog,
} from "@hookline/kit";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { type RunningClassifier, startClassifier } from "./classifier";
import { classifierEnvShape } from "./config";
import { createClassifierMetrics } from "./metrics";
import { createEndpointDisabler } from "./outcomes/endpoint-disabler";
import type { RetryPolicy } from "./scheduling/retry-plan";
import type { RetryTier } from "./scheduling/retry-tiers";
import { ensureTierConsumers, formerTierConsumers } from "./tiers/tier-consumers";

const SERVICE = "classifier";
const PROVISION_RETRY_MS = 1_000;

interface Provisioned {
  jsm: JetStreamManager;
  kv: KV;
  formerTiers: string[];
}

/** Retries until NATS answers with JetStream: start-up order never matters. */
async function provisionUntilDone(
  nc: NatsConnection,
  options: ProvisionOptions,
  tiers: { tiers: readonly RetryTier[]; maxAckPending: number },
  log: Logger,
  stopping: () => boolean,
): Promise<Provisioned | undefined> {
  const names: HooklineNames = options.names;
  for (let round = 1; !stopping(); round++) {
    try {
      const jsm = await jetstreamManager(nc);
      const { endpoints } = await provision(nc, jsm, options);
      await ensureTierConsumers(jsm, names, tiers.tiers, tiers.maxAckPending);
      const former = await formerTierConsumers(jsm, names, tiers.tiers);
      const prefix = names.consumers.retryTier("");
      return { jsm, kv: endpoints, formerTiers: former.map((name) => name.slice(prefix.length)) };
    } catch (error) {
      if (round === 1 || round % 10 === 0) {
        log.warn({ err: error, round }, "provisioning failed; retrying");
      }
      await new Promise((resolve) => setTimeout(resolve, PROVISION_RETRY_MS));
    }
  }
  return undefined;
}

async function main(): Promise<void> {
  const env = loadEnvOrExit(SERVICE, classifierEnvShape);
  const logger = createLogger({ service: SERVICE, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  const serviceMetrics = createServiceMetrics(SERVICE);
  const metrics = createClassifierMetrics(serviceMetrics);
  const names = hooklineNames(env.HOOKLINE_PREFIX);
  const provisionOptions: ProvisionOptions = {
    ...defaultProvisionOptions,
    names,
    dedupeWindowMs: env.INGEST_DEDUPE_WINDOW,
    dispatchMaxBytes: env.DISPATCH_MAX_BYTES,
    replicas: env.JETSTREAM_REPLICAS,
  };
  const policy: RetryPolicy = {
    schedule: env.RETRY_SCHEDULE,
    tiers: env.RETRY_TIERS,
    jitter: env.RETRY_JITTER,
    overloadMinDelayMs: env.RETRY_OVERLOAD_MIN_DELAY,
    deferralMinDelayMs: env.DEFERRAL_MIN_DELAY,
    deferralMaxDelayMs: env.DEFERRAL_MAX_DELAY,
  };

  // Filled in as start-up progresses; readiness and shutdown look at what exists so far, so
  // /healthz answers and SIGTERM works even while NATS is not there yet.
  const started: {
    link?: NatsLink;
    provisioned: boolean;
    endpoints?: EndpointCache;
    classifier?: RunningClassifier;
    stopBacklog?: () => void;
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
  logger.info(
    { port: server.port, tiers: env.RETRY_TIERS.map((tier) => tier.name) },
    "classifier listening",
  );

  let stopping = false;
  installGracefulShutdown({
    logger,
    timeoutMs: env.SHUTDOWN_TIMEOUT,
    steps: [
      {
        name: "stop consumers",
        run: async () => {
          stopping = true;
          started.stopBacklog?.();
          await started.classifier?.stop();
        },
      },
      { name: "stop endpoint watch", run: () => started.endpoints?.stop() },
      {
        name: "drain nats",
        run: () => {
          const nc = started.link?.nc;
          return nc && !nc.isClosed() ? nc.drain() : undefined;
        },
      },
      { name: "close http", run: () => server.close() },
    ],
  });

  const link = await connectNats({ url: env.NATS_URL, name: SERVICE, logger });
  started.link = link;
  const provisioned = await provisionUntilDone(
    link.nc,
    provisionOptions,
    { tiers: env.RETRY_TIERS, maxAckPending: env.RETRY_TIER_MAX_ACK_PENDING },
    logger,
    () => stopping,
  );
  if (!provisioned || stopping) return;
  started.provisioned = true;
  if (provisioned.formerTiers.length > 0) {
    logger.info(
      { formerTiers: provisioned.formerTiers },
      "tiers no longer in RETRY_TIERS keep draining; delete their consumers once empty",
    );
  }
  const endpoints = await startEndpointCache(provisioned.kv, logger);
  started.endpoints = endpoints;
  await endpoints.ready;
  if (stopping) return;
  const classifier = startClassifier({
    js: jetstream(link.nc),
    jsm: provisioned.jsm,
    names,
    endpoints,
    disabler: createEndpointDisabler({ kv: provisioned.kv, endpoints }),
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
    logger,
  });
}

await main();
