import {
  type ControlEndpoint,
  controlEndpoints,
  controlServiceName,
  controlSubjectAll,
  type HooklineNames,
} from "@hookline/contracts";

export const HOOKLINE_SERVICES = ["ingest", "delivery", "classifier", "dlq"] as const;
export type HooklineService = (typeof HOOKLINE_SERVICES)[number];
/** The services' users and the provision step's (the one user that may change stream config). */
export const HOOKLINE_NATS_USERS = [...HOOKLINE_SERVICES, "provisioner"] as const;
export type HooklineNatsUser = (typeof HOOKLINE_NATS_USERS)[number];

/** Subjects a NATS user may publish to and subscribe to (nats-server's `allow` lists). */
export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  /**
   * nats-server's `allow_responses`: may publish one reply to the reply subject of a request it
   * received, and nothing else there. The control services answer requesters' inboxes with it,
   * which no publish allow-list could name without letting them write to another user's inbox.
   */
  allowResponses?: boolean;
}

/** The micro services discovery subjects (`$SRV.<verb>`, by name, by name and id). */
function discoverySubjects(name: string): string[] {
  return ["PING", "INFO", "STATS"].flatMap((verb) => [
    `$SRV.${verb}`,
    `$SRV.${verb}.${name}`,
    `$SRV.${verb}.${name}.*`,
  ]);
}

/**
 * The reply inbox prefix of a service's user (its NATS_INBOX_PREFIX). Each user may subscribe
 * to its own only, so no service reads another's replies: the dlq can't see the KV watch
 * deliveries (endpoint secrets) that come to ingest's inboxes.
 */
export function natsInboxPrefix(prefix: string, user: HooklineNatsUser): string {
  return `_INBOX_${prefix}_${user}`;
}

const API = "$JS.API";

/**
 * What each NATS user may do, derived from the names the code uses. The choices:
 *
 * - Provisioning: only the provisioner (the provision step, run once per deploy) creates and
 *   updates the streams, the shared durables, the retry tiers' consumers and the buckets, and it
 *   may publish to no data subject. The services run with HOOKLINE_PROVISION=verify: they read
 *   stream and consumer info (and wait until all exist) but may not change any stream's config.
 *   What a service still creates are consumers that leave stream config alone: delivery's
 *   overflow consumers and the endpoint cache's ephemeral consumers on the KV stream. No user
 *   deletes or purges a stream, or deletes messages other than the classifier's poison and
 *   the dlq's retry-now (a waiting retry it has just sent on); the provisioner deletes only the
 *   streams of earlier versions that new ones replaced.
 * - JetStream API subjects name the stream and consumer wherever nats-server 2.9 allows it;
 *   acks are `$JS.ACK.<stream>.>` of the streams a service consumes.
 * - Replies come to the user's own inbox prefix (natsInboxPrefix), never `_INBOX.>`.
 */
export function natsPermissions(names: HooklineNames): Record<HooklineNatsUser, NatsPermissions> {
  const { streams, consumers, subjects, prefix } = names;
  const endpointsBucket = names.kv.endpoints;
  // Ingest's tenant registry; named as ingest names it.
  const tenantsBucket = `${prefix}_tenants`;
  const kvStream = (bucket: string) => `KV_${bucket}`;
  const sharedStreams = [...Object.values(streams), kvStream(endpointsBucket)];
  const sharedDurables = [
    [streams.dispatch, consumers.deliveryFresh],
    [streams.dispatchRetry, consumers.deliveryRetry],
    [streams.outcomes, consumers.classifier],
    [streams.deadletter, consumers.dlqStore],
    [streams.advisories, consumers.classifierPoison],
    [streams.attempts, consumers.dlqAttempts],
    [streams.ops, consumers.ingestOps],
  ] as const;

  const consumerInfo = (stream: string, consumer: string) =>
    `${API}.CONSUMER.INFO.${stream}.${consumer}`;
  // nats.js names the filter in the subject when the consumer has one (server 2.9+).
  const consumerCreate = (stream: string, consumer: string) => [
    `${API}.CONSUMER.CREATE.${stream}.${consumer}`,
    `${API}.CONSUMER.CREATE.${stream}.${consumer}.>`,
  ];
  const pull = (stream: string, consumer: string) => [
    consumerInfo(stream, consumer),
    `${API}.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
  ];
  const acks = (stream: string) => `$JS.ACK.${stream}.>`;

  // What every service does at start: verify that the provision step ran, and watch every
  // stream's usage. Info only: creating and updating is the provisioner's.
  const verifying = [
    `${API}.INFO`,
    ...sharedStreams.map((stream) => `${API}.STREAM.INFO.${stream}`),
    ...sharedDurables.map(([stream, consumer]) => consumerInfo(stream, consumer)),
  ];

  // The provision step: every stream (the buckets' too), shared durable and retry tier's
  // consumer, created or updated; nothing else.
  const provisionedStreams = [...sharedStreams, kvStream(tenantsBucket)];
  const provisioner: NatsPermissions = {
    publish: [
      `${API}.INFO`,
      ...provisionedStreams.flatMap((stream) => [
        `${API}.STREAM.INFO.${stream}`,
        `${API}.STREAM.CREATE.${stream}`,
        `${API}.STREAM.UPDATE.${stream}`,
      ]),
      ...sharedDurables.flatMap(([stream, consumer]) => [
        consumerInfo(stream, consumer),
        ...consumerCreate(stream, consumer),
      ]),
      // retry-<tier>, one per tier of RETRY_TIERS
      consumerInfo(streams.retry, "*"),
      ...consumerCreate(streams.retry, "*"),
      // streams of earlier versions whose subjects new ones took (removeRetiredStreams)
      ...Object.values(names.retiredStreams).map((stream) => `${API}.STREAM.DELETE.${stream}`),
    ],
    subscribe: [`${natsInboxPrefix(prefix, "provisioner")}.>`],
  };

  // The endpoint cache: a watch (an ordered consumer with flow control), the bulk replay's
  // named ephemeral consumer, and single reads (direct get, or the stream's message get).
  const bucketReader = (bucket: string) => {
    const stream = kvStream(bucket);
    return [
      `${API}.STREAM.INFO.${stream}`,
      `${API}.DIRECT.GET.${stream}`,
      `${API}.DIRECT.GET.${stream}.>`,
      `${API}.STREAM.MSG.GET.${stream}`,
      `${API}.CONSUMER.CREATE.${stream}`,
      `${API}.CONSUMER.CREATE.${stream}.>`,
      `${API}.CONSUMER.INFO.${stream}.*`,
      `${API}.CONSUMER.DELETE.${stream}.*`,
      `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
      `$JS.FC.${stream}.>`,
    ];
  };
  // Writes are publishes to the bucket's subjects (put, create, update, delete).
  const bucketWriter = (bucket: string) => [`$KV.${bucket}.>`];

  // Each service answers discovery and its control endpoints (kit's control-service), replying
  // with allow_responses.
  const answers = (service: HooklineService, endpoints: ControlEndpoint[]) => [
    ...discoverySubjects(controlServiceName(prefix, service)),
    ...endpoints.map((endpoint) => controlSubjectAll(prefix, service, endpoint)),
  ];
  const controlled: Record<HooklineService, ControlEndpoint[]> = {
    ingest: [controlEndpoints.status],
    delivery: [
      controlEndpoints.status,
      controlEndpoints.breakerHealth,
      controlEndpoints.breakerReset,
    ],
    classifier: [controlEndpoints.status],
    dlq: [controlEndpoints.status],
  };
  // Ingest's operator routes (system health, breakers) find every instance and ask it.
  const controlRequests = HOOKLINE_SERVICES.flatMap((service) => [
    `$SRV.PING.${controlServiceName(prefix, service)}`,
    ...controlled[service].map((endpoint) => controlSubjectAll(prefix, service, endpoint)),
  ]);

  const own = (service: HooklineService, publish: string[]): NatsPermissions => ({
    publish: [...new Set([...verifying, ...publish])],
    subscribe: [`${natsInboxPrefix(prefix, service)}.>`, ...answers(service, controlled[service])],
    allowResponses: true,
  });

  return {
    // Receives events, owns the endpoint registry and the tenants bucket.
    ingest: own("ingest", [
      subjects.dispatchFreshAll,
      // backlog_full dead letters of fresh tasks
      subjects.deadletterAll,
      ...bucketReader(endpointsBucket),
      ...bucketWriter(endpointsBucket),
      // A deleted endpoint's earlier revisions (secrets, header values), filtered to its key.
      `${API}.STREAM.PURGE.${kvStream(endpointsBucket)}`,
      ...bucketReader(tenantsBucket),
      ...bucketWriter(tenantsBucket),
      // operators' routes: system health and breakers of every instance (kit's control-client)
      ...controlRequests,
      // operational events: it emits the endpoint transitions its watch sees, and makes every
      // operational event a webhook of the system tenant
      subjects.ops("endpoint.disabled"),
      subjects.ops("endpoint.enabled"),
      ...pull(streams.ops, consumers.ingestOps),
      acks(streams.ops),
    ]),
    // Consumes dispatch, publishes outcomes, moves busy endpoints' tasks to their own consumers.
    delivery: own("delivery", [
      subjects.outcomeFailedAll,
      subjects.outcomeDeliveredAll,
      subjects.dispatchOverflowAll,
      // backlog_full of moved tasks, and undecodable tasks (deadletter.invalid)
      subjects.deadletterAll,
      ...pull(streams.dispatch, consumers.deliveryFresh),
      ...pull(streams.dispatchRetry, consumers.deliveryRetry),
      acks(streams.dispatch),
      acks(streams.dispatchRetry),
      // delivery-overflow-<endpoint>: found by listing, created filtered to overflow subjects
      // only, pulled, and deleted once drained.
      `${API}.CONSUMER.LIST.${streams.dispatchRetry}`,
      `${API}.CONSUMER.CREATE.${streams.dispatchRetry}.*.${subjects.dispatchOverflowAll}`,
      `${API}.CONSUMER.INFO.${streams.dispatchRetry}.*`,
      `${API}.CONSUMER.MSG.NEXT.${streams.dispatchRetry}.*`,
      `${API}.CONSUMER.DELETE.${streams.dispatchRetry}.*`,
      ...bucketReader(endpointsBucket),
      // clears an endpoint's failingSince on its first success
      ...bucketWriter(endpointsBucket),
      // operational events of its breakers
      subjects.ops("breaker.opened"),
      subjects.ops("breaker.closed"),
    ]),
    // Consumes failed outcomes, holds retries in tiers, dead-letters, disables endpoints.
    classifier: own("classifier", [
      subjects.retryAll,
      // failed attempts with the decision taken, for the attempt log
      subjects.outcomeClassifiedAll,
      subjects.dispatchRetryAll,
      subjects.deadletterAll,
      ...pull(streams.outcomes, consumers.classifier),
      ...pull(streams.advisories, consumers.classifierPoison),
      acks(streams.outcomes),
      acks(streams.retry),
      acks(streams.advisories),
      // retry-<tier>: one durable per tier of RETRY_TIERS (the provisioner creates them), and
      // former tiers found by listing
      `${API}.CONSUMER.LIST.${streams.retry}`,
      `${API}.CONSUMER.INFO.${streams.retry}.*`,
      `${API}.CONSUMER.MSG.NEXT.${streams.retry}.*`,
      // poison: reads a task by sequence, dead-letters and deletes it; the sweep lists the
      // dispatch consumers to find tasks they passed.
      ...[streams.dispatch, streams.dispatchRetry].flatMap((stream) => [
        `${API}.CONSUMER.LIST.${stream}`,
        `${API}.STREAM.MSG.GET.${stream}`,
        `${API}.STREAM.MSG.DELETE.${stream}`,
      ]),
      ...bucketReader(endpointsBucket),
      // failingSince and auto-disable
      ...bucketWriter(endpointsBucket),
    ]),
    // Stores dead letters; replays them to dispatch.retry. Reads endpoints (their URL), never
    // writes them.
    dlq: own("dlq", [
      subjects.dispatchRetryAll,
      ...pull(streams.deadletter, consumers.dlqStore),
      acks(streams.deadletter),
      // the attempt log
      ...pull(streams.attempts, consumers.dlqAttempts),
      acks(streams.attempts),
      ...bucketReader(endpointsBucket),
      // operational events from its dead letters and attempt log
      subjects.ops("task.dead_lettered"),
      subjects.ops("deadletters.threshold"),
      subjects.ops("endpoint.failure_rate"),
      // retry now: reads a waiting retry (STREAM.MSG.GET, below), publishes it to
      // dispatch.retry (above), then deletes it from its tier
      `${API}.STREAM.MSG.DELETE.${streams.retry}`,
      // queue stats (GET /v1/queues): read-only info on every stream and its consumers, with
      // subject counts, and the oldest waiting message's timestamp
      ...sharedStreams.flatMap((stream) => [
        `${API}.CONSUMER.LIST.${stream}`,
        `${API}.CONSUMER.INFO.${stream}.*`,
        `${API}.STREAM.MSG.GET.${stream}`,
      ]),
    ]),
    provisioner,
  };
}

/** The env variable nats-server reads a user's password from. */
export function natsPasswordVariable(user: HooklineNatsUser): string {
  return `${user.toUpperCase()}_NATS_PASSWORD`;
}

/**
 * nats-server's `authorization` block: one user per service and the provisioner, each password
 * read from the server's environment (natsPasswordVariable), so the file holds no secret.
 */
export function natsUsersConfig(names: HooklineNames): string {
  const permissions = natsPermissions(names);
  const allow = (direction: string, subjects: string[]) => [
    `        ${direction}: {`,
    "          allow: [",
    ...subjects.map((subject) => `            ${JSON.stringify(subject)}`),
    "          ]",
    "        }",
  ];
  const users = HOOKLINE_NATS_USERS.map((user) =>
    [
      "    {",
      `      user: ${user}`,
      `      password: $${natsPasswordVariable(user)}`,
      "      permissions: {",
      ...allow("publish", permissions[user].publish),
      ...allow("subscribe", permissions[user].subscribe),
      ...(permissions[user].allowResponses ? ["        allow_responses: true"] : []),
      "      }",
      "    }",
    ].join("\n"),
  );
  return [
    `# One NATS user per Hookline service (HOOKLINE_PREFIX=${names.prefix}), each allowed only the`,
    "# subjects it needs, and the provisioner, the only one that creates and updates streams and",
    "# durables (the provision step; the services run with HOOKLINE_PROVISION=verify).",
    "# Generated by kit's natsUsersConfig (packages/kit/src/nats-permissions.ts): edit that and",
    "# run `pnpm exec tsx scripts/render-nats-users.ts`, never this file.",
    "# Passwords come from nats-server's environment (the nats-users Secret).",
    "authorization {",
    "  users = [",
    users.join("\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}
