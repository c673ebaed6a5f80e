import {
  DEFAULT_RETRY_TIERS,
  defaultProvisionOptions,
  type HooklineNames,
  hooklineNames,
  parseDurationList,
  provision,
} from "@hookline/contracts";
import {
  connectNats,
  createControlClient,
  createLogger,
  createServiceMetrics,
  type EndpointCache,
  type NatsLink,
  type SecretBox,
  type ServiceMetrics,
  startEndpointCache,
} from "@hookline/kit";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { createIngestApp, type IngestApp } from "../app";
import { createEndpointRegistry, type EndpointRegistry } from "../endpoints/registry";
import { endpointSealer } from "../endpoints/secrets";
import { startBacklogQuotas } from "../events/backlog-quotas";
import { createEventPublisher, DEFAULT_PUBLISH_TIMEOUT_MS } from "../events/publisher";
import { pubAckTaskPublisher } from "../events/task-publisher";
import { keyHistoryPurger } from "../kv/key-history";
import { createIngestMetrics } from "../metrics";
import { createBreakerOperations } from "../operations/breakers";
import { createSystemHealthReader } from "../operations/system-health";
import { ensureTenantBucket } from "../tenants/bucket";
import { createTenantRegistry, type TenantRegistry } from "../tenants/registry";
import { startTenantView, type TenantView } from "../tenants/tenant-view";

export const TEST_TOKEN = "test-ingest-token-123";

export interface IngestHarness {
  app: IngestApp;
  nats: NatsServerHandle;
  link: NatsLink;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  tenantsKv: KV;
  names: HooklineNames;
  cache: EndpointCache;
  registry: EndpointRegistry;
  tenants: TenantView;
  tenantRegistry: TenantRegistry;
  metrics: ServiceMetrics;
  /** Calls the app with the test token and a JSON body. */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

export interface IngestHarnessOptions {
  prefix: string;
  maxBodyBytes?: number;
  maxBatchBytes?: number;
  dispatchMaxBytes?: number;
  now?: () => number;
  /**
   * Stands between the publisher and JetStream, e.g. to lose PubAcks of stored tasks; tasks
   * then go through `js.publish` instead of main.ts's pubAckTaskPublisher.
   */
  wrapJetStream?: (js: JetStreamClient) => JetStreamClient;
  /** false: every event request goes through the validated routes (createIngestApp's option). */
  fastEventRoutes?: boolean;
  /** Seal secrets and header values as main.ts does with HOOKLINE_ENCRYPTION_KEYS; default none. */
  secretBox?: SecretBox;
  /** INGEST_CONTROL_TIMEOUT of the operators' routes; default 1 s. */
  controlTimeoutMs?: number;
}

/** The ingest app wired as main.ts wires it, in-process, against a real nats-server. */
export async function startIngestHarness(options: IngestHarnessOptions): Promise<IngestHarness> {
  const nats = await startNatsServer();
  const logger = createLogger({
    service: "ingest",
    level: process.env.HOOKLINE_TEST_LOGS === "1" ? "debug" : "silent",
    pretty: false,
  });
  const metrics = createServiceMetrics("ingest");
  const link = await connectNats({ url: nats.url, name: "ingest-test", logger });
  const names = hooklineNames(options.prefix);
  const jsm = await jetstreamManager(link.nc);
  const { endpoints: kv } = await provision(link.nc, jsm, {
    ...defaultProvisionOptions,
    names,
    ...(options.dispatchMaxBytes === undefined
      ? {}
      : { dispatchMaxBytes: options.dispatchMaxBytes }),
  });
  const cache = await startEndpointCache(kv, logger);
  await cache.ready;
  const tenantsKv = await ensureTenantBucket(link.nc, names);
  const tenants = await startTenantView(tenantsKv, logger);
  await tenants.ready;
  const js = jetstream(link.nc);
  const ingestMetrics = createIngestMetrics(metrics, () => ({
    enabled: cache.all().filter((cached) => !cached.record.disabled).length,
    disabled: cache.all().filter((cached) => cached.record.disabled).length,
  }));
  const quotas = startBacklogQuotas({ jsm, names, cache, logger });
  const registry = createEndpointRegistry({
    kv,
    cache,
    isConnected: link.isConnected,
    logger,
    backlogQuotaLimit: defaultProvisionOptions.endpointBacklogQuota,
    longestRetryTierMs: Math.max(...(parseDurationList(DEFAULT_RETRY_TIERS) ?? [])),
    sealer: endpointSealer(options.secretBox),
    purgeHistory: keyHistoryPurger(jsm, names.kv.endpoints),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const tenantRegistry = createTenantRegistry({
    kv: tenantsKv,
    view: tenants,
    endpoints: registry,
    endpointCache: cache,
    isConnected: link.isConnected,
    logger,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const control = createControlClient({
    nc: link.nc,
    prefix: names.prefix,
    timeoutMs: options.controlTimeoutMs ?? 1_000,
  });
  const app = createIngestApp({
    breakers: createBreakerOperations({ control }),
    systemHealth: createSystemHealthReader({ control, jsm, names }),
    ...(options.fastEventRoutes === undefined ? {} : { fastEventRoutes: options.fastEventRoutes }),
    logger,
    metrics,
    ingestMetrics,
    readiness: { nats: link.isConnected, endpointCache: cache.isReady, tenants: tenants.isReady },
    tokens: [{ name: "tester", token: TEST_TOKEN }],
    limits: {
      maxBodyBytes: options.maxBodyBytes ?? 262_144,
      maxBatchBytes: options.maxBatchBytes ?? 5 * 1024 * 1024,
    },
    registry,
    cache,
    tenants,
    tenantRegistry,
    secretBox: options.secretBox,
    events: createEventPublisher({
      js: options.wrapJetStream?.(js) ?? js,
      ...(options.wrapJetStream === undefined
        ? { tasks: pubAckTaskPublisher(link.nc, DEFAULT_PUBLISH_TIMEOUT_MS) }
        : {}),
      names,
      cache,
      isConnected: link.isConnected,
      metrics: ingestMetrics,
      logger,
      taskDeadlineMs: 3 * 86_400_000,
      maxEventBytes: (options.maxBodyBytes ?? 262_144) + 1_024,
      quotas,
      ...(options.now === undefined ? {} : { now: options.now }),
    }),
  });

  return {
    app,
    nats,
    link,
    js,
    jsm,
    kv,
    tenantsKv,
    names,
    cache,
    registry,
    tenants,
    tenantRegistry,
    metrics,
    call(method, path, body, headers) {
      return Promise.resolve(
        app.request(path, {
          method,
          headers: {
            authorization: `Bearer ${TEST_TOKEN}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...headers,
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
      );
    },
    async close() {
      quotas.stop();
      cache.stop();
      tenants.stop();
      await link.nc.close();
      await nats.stop();
    },
  };
}
