import type { HooklineNames } from "@hookline/contracts";
import {
  type ConsumerPump,
  type EndpointCache,
  type Logger,
  type ServiceMetrics,
  startConsumerPump,
} from "@hookline/kit";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createBlockPublisher } from "./block-publisher";
import type { ClassifierMetrics } from "./metrics";
import type { EndpointDisabler } from "./outcomes/endpoint-disabler";
import type { EndpointHealth } from "./outcomes/endpoint-health";
import { createOutcomeHandler } from "./outcomes/outcome-handler";
import { startPassedTaskSweep } from "./poison/passed-task-sweep";
import { createPoisonHandler, createPoisonSettler } from "./poison/poison-handler";
import type { RandomSource, RetryPolicy } from "./scheduling/retry-plan";
import { parseRetryTiers } from "./scheduling/retry-tiers";
import { createTierReleaseHandler } from "./tiers/tier-release";

/** Advisories are rare; a few at once is plenty. */
const POISON_CONCURRENCY = 4;

export interface ClassifierOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** For the attempt log's copies of classified outcomes, core-published. */
  nc: Pick<NatsConnection, "publish">;
  names: HooklineNames;
  endpoints: Pick<EndpointCache, "get">;
  disabler: EndpointDisabler;
  health?: EndpointHealth;
  policy: RetryPolicy;
  /** Outcomes handled at once. */
  concurrency: number;
  /** Each tier consumer's max_ack_pending; its pull prefetch matches it. */
  tierMaxAckPending: number;
  /** How often tasks passed without an ack (and without an advisory) are looked for. */
  passedTaskSweepMs?: number;
  /** Tier names whose consumers outlived a change of RETRY_TIERS; they keep draining. */
  formerTiers?: readonly string[];
  serviceMetrics: ServiceMetrics;
  metrics: ClassifierMetrics;
  logger: Logger;
  now?: () => number;
  random?: RandomSource;
}

export interface RunningClassifier {
  /** Every consumer it pulls from, for the backlog gauges. */
  consumers: { stream: string; consumer: string }[];
  /** Stops pulling and waits for messages in flight. */
  stop(): Promise<void>;
}

/** Starts the outcome, tier and poison consumers. Streams and consumers must exist. */
export function startClassifier(options: ClassifierOptions): RunningClassifier {
  const { js, names, logger } = options;
  const pumps: ConsumerPump[] = [];
  const consumers: { stream: string; consumer: string }[] = [];
  const shared = {
    js,
    names,
    // One publisher for every handler's retries: one inbox subscription, one timeout sweep.
    publishBlock: createBlockPublisher(js),
    serviceMetrics: options.serviceMetrics,
    metrics: options.metrics,
    logger,
  };

  const outcomes = { stream: names.streams.outcomes, consumer: names.consumers.classifier };
  consumers.push(outcomes);
  pumps.push(
    startConsumerPump({
      js,
      ...outcomes,
      concurrency: options.concurrency,
      logger,
      handle: createOutcomeHandler({
        ...shared,
        nc: options.nc,
        endpoints: options.endpoints,
        disabler: options.disabler,
        health: options.health,
        policy: options.policy,
        now: options.now,
        random: options.random,
      }),
    }),
  );

  const former = (options.formerTiers ?? []).flatMap((name) => {
    const parsed = parseRetryTiers(name);
    return parsed.ok ? parsed.tiers : [];
  });
  for (const tier of [...options.policy.tiers, ...former]) {
    const tierConsumer = {
      stream: names.streams.retry,
      consumer: names.consumers.retryTier(tier.name),
    };
    consumers.push(tierConsumer);
    pumps.push(
      startConsumerPump({
        js,
        ...tierConsumer,
        // The prefetch equals max_ack_pending: early messages are nakked at once, so a larger
        // one would only start ack_wait on messages the server can't hand out anyway.
        concurrency: options.tierMaxAckPending,
        logger,
        handle: createTierReleaseHandler({
          ...shared,
          tier,
          tiers: options.policy.tiers,
          consumer: tierConsumer.consumer,
          now: options.now,
        }),
      }),
    );
  }

  const poison = { stream: names.streams.advisories, consumer: names.consumers.classifierPoison };
  consumers.push(poison);
  pumps.push(
    startConsumerPump({
      js,
      ...poison,
      concurrency: POISON_CONCURRENCY,
      logger,
      handle: createPoisonHandler({ ...shared, jsm: options.jsm }),
    }),
  );
  const sweep = startPassedTaskSweep({
    jsm: options.jsm,
    names,
    settle: createPoisonSettler({ ...shared, jsm: options.jsm }),
    logger,
    intervalMs: options.passedTaskSweepMs,
  });

  return {
    consumers,
    async stop() {
      sweep.stop();
      await Promise.all(pumps.map((pump) => pump.stop()));
    },
  };
}
