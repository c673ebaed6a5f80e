import {
  appendAttempt,
  type DeadLetterMeta,
  type Decoded,
  decodeDeadLetter,
  decodeTask,
  defaultProvisionOptions,
  type EndpointRecord,
  type HooklineNames,
  hooklineNames,
  type OutcomeMeta,
  type ProvisionOptions,
  provision,
  type TaskMeta,
} from "@hookline/contracts";
import {
  connectNats,
  createLogger,
  createServiceMetrics,
  type EndpointCache,
  type Logger,
  type NatsLink,
  type ServiceMetrics,
  startEndpointCache,
} from "@hookline/kit";
import { pollUntil } from "@hookline/testkit";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { type ClassifierOptions, type RunningClassifier, startClassifier } from "../classifier";
import { type ClassifierMetrics, createClassifierMetrics } from "../metrics";
import { createEndpointDisabler } from "../outcomes/endpoint-disabler";
import type { RetryPolicy } from "../scheduling/retry-plan";
import { scheduleBackoff } from "../scheduling/retry-strategies";
import { parseRetryTiers } from "../scheduling/retry-tiers";
import { ensureTierConsumers } from "../tiers/tier-consumers";

export interface ClassifierHarness {
  link: NatsLink;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  names: HooklineNames;
  endpoints: EndpointCache;
  policy: RetryPolicy;
  serviceMetrics: ServiceMetrics;
  metrics: ClassifierMetrics;
  logger: Logger;
  /** Everything startClassifier needs, wired as main.ts wires it. */
  classifierOptions(overrides?: Partial<ClassifierOptions>): ClassifierOptions;
  /** Starts the classifier in-process; close() stops it. */
  startClassifier(overrides?: Partial<ClassifierOptions>): RunningClassifier;
  close(): Promise<void>;
}

export interface ClassifierHarnessOptions {
  natsUrl: string;
  prefix: string;
  tiers?: string;
  schedule?: number[];
  tierMaxAckPending?: number;
  provision?: Partial<Omit<ProvisionOptions, "names">>;
}

export function tiersOf(text: string) {
  const parsed = parseRetryTiers(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.tiers;
}

/** Streams, consumers, bucket and endpoint cache for one prefix on a real nats-server. */
export async function startClassifierHarness(
  options: ClassifierHarnessOptions,
): Promise<ClassifierHarness> {
  const logger = createLogger({
    service: "classifier",
    level: process.env.HOOKLINE_TEST_LOGS === "1" ? "debug" : "silent",
    pretty: false,
  });
  const serviceMetrics = createServiceMetrics("classifier");
  const metrics = createClassifierMetrics(serviceMetrics);
  const link = await connectNats({ url: options.natsUrl, name: "classifier-test", logger });
  const names = hooklineNames(options.prefix);
  const jsm = await jetstreamManager(link.nc);
  const js = jetstream(link.nc);
  const { endpoints: kv } = await provision(link.nc, jsm, {
    ...defaultProvisionOptions,
    ...options.provision,
    names,
  });
  const policy: RetryPolicy = {
    backoff: scheduleBackoff(options.schedule ?? [5_000, 300_000, 1_800_000], 0.2),
    tiers: tiersOf(options.tiers ?? "5s,30s,2m,5m,30m,2h,5h,10h"),
    jitter: 0.2,
    rateLimitedMinDelayMs: 60_000,
    overloadMinDelayMs: 60_000,
    networkMinDelayMs: 0,
    deferralMinDelayMs: 1_000,
    deferralMaxDelayMs: 600_000,
  };
  const tierMaxAckPending = options.tierMaxAckPending ?? 50;
  await ensureTierConsumers(jsm, names, policy.tiers, tierMaxAckPending);
  const endpoints = await startEndpointCache(kv, logger);
  await endpoints.ready;
  const running: RunningClassifier[] = [];

  const classifierOptions = (overrides: Partial<ClassifierOptions> = {}): ClassifierOptions => ({
    js,
    jsm,
    nc: link.nc,
    names,
    endpoints,
    disabler: createEndpointDisabler({ kv, endpoints }),
    policy,
    concurrency: 32,
    tierMaxAckPending,
    serviceMetrics,
    metrics,
    logger,
    ...overrides,
  });

  return {
    link,
    js,
    jsm,
    kv,
    names,
    endpoints,
    policy,
    serviceMetrics,
    metrics,
    logger,
    classifierOptions,
    startClassifier(overrides) {
      const classifier = startClassifier(classifierOptions(overrides));
      running.push(classifier);
      return classifier;
    },
    async close() {
      await Promise.all(running.map((classifier) => classifier.stop()));
      endpoints.stop();
      await link.nc.drain();
    },
  };
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A fresh `ep_<ULID>`-shaped id, so every test has its own subjects. */
export function randomEndpointId(): string {
  let ulid = "";
  for (let i = 0; i < 26; i++) ulid += crockford[Math.floor(Math.random() * 32)];
  return `ep_${ulid}`;
}

export async function putEndpoint(
  kv: KV,
  endpoints: EndpointCache,
  changes: Partial<EndpointRecord> = {},
): Promise<{ record: EndpointRecord; revision: number }> {
  const at = new Date().toISOString();
  const record: EndpointRecord = {
    id: randomEndpointId(),
    url: "https://example.com/hook",
    eventTypes: [],
    secrets: [{ value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: at }],
    disabled: false,
    createdAt: at,
    updatedAt: at,
    ...changes,
  };
  const revision = await kv.put(record.id, JSON.stringify(record));
  await endpoints.waitForRevision(revision);
  return { record, revision };
}

/** An outcome as delivery publishes it after a failed attempt. */
export function failedOutcome(
  changes: Partial<OutcomeMeta> & { endpointId: string },
  at = Date.now(),
): OutcomeMeta {
  const eventId = changes.eventId ?? `evt_${Math.random().toString(36).slice(2, 12)}`;
  const attempt = changes.attempt ?? 1;
  const result = changes.result ?? "http_error";
  const status = result === "http_error" ? (changes.status ?? 500) : changes.status;
  return {
    taskId: `${eventId}:${changes.endpointId}`,
    eventId,
    eventType: "order.created",
    attempt,
    deferrals: 0,
    createdAt: at - 1_000,
    deadline: at + 86_400_000,
    history: appendAttempt([], { n: attempt, at, result, ms: 12, ...(status ? { status } : {}) }),
    result,
    status,
    durationMs: 12,
    ...changes,
  };
}

export async function waitUntil(
  what: string,
  ready: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  await pollUntil(async () => ready(), { timeoutMs, intervalMs: 20, what });
}

/** The newest message on a subject, or undefined. */
export async function lastOn(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredMsg | undefined> {
  return (await jsm.streams.getMessage(stream, { last_by_subj: subject })) ?? undefined;
}

export async function waitForLastOn(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  timeoutMs = 10_000,
): Promise<StoredMsg> {
  let found: StoredMsg | undefined;
  await waitUntil(
    `a message on ${subject}`,
    async () => {
      found = await lastOn(jsm, stream, subject);
      return found !== undefined;
    },
    timeoutMs,
  );
  return found as StoredMsg;
}

export function decodedTask(msg: StoredMsg): TaskMeta {
  return unwrap(decodeTask(msg.header));
}

export function decodedDeadLetter(msg: StoredMsg): DeadLetterMeta {
  return unwrap(decodeDeadLetter(msg.header));
}

function unwrap<T>(decoded: Decoded<T>): T {
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value;
}

/** Messages a consumer holds: not yet delivered, and delivered but not acked. */
export async function consumerBacklog(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<{ pending: number; ackPending: number }> {
  const info = await jsm.consumers.info(stream, consumer);
  return { pending: info.num_pending, ackPending: info.num_ack_pending };
}
