import type { HooklineNames } from "@hookline/contracts";

export const HOOKLINE_SERVICES = ["ingest", "delivery", "classifier", "dlq"] as const;
export type HooklineService = (typeof HOOKLINE_SERVICES)[number];

/** Subjects a NATS user may publish to and subscribe to (nats-server's `allow` lists). */
export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/**
 * The reply inbox prefix of a service's user (its NATS_INBOX_PREFIX). Each user may subscribe
 * to its own only, so no service reads another's replies: the dlq can't see the KV watch
 * deliveries (endpoint secrets) that come to ingest's inboxes.
 */
export function natsInboxPrefix(prefix: string, service: HooklineService): string {
  return `_INBOX_${prefix}_${service}`;
}

const API = "$JS.API";

/**
 * What each service's NATS user may do, derived from the names the code uses. The choices:
 *
 * - Provisioning: every service provisions every stream, the shared durables and the endpoint
 *   bucket at start (kit's provisionUntilDone), so start-up order never matters. Each user may
 *   therefore read, create and update those streams and durables, but never delete or purge a
 *   stream, purge or delete messages other than the classifier's poison, or create consumers
 *   beyond its own. See docs/operations.md for what this leaves open.
 * - JetStream API subjects name the stream and consumer wherever nats-server 2.9 allows it;
 *   acks are `$JS.ACK.<stream>.>` of the streams a service consumes.
 * - Replies come to the user's own inbox prefix (natsInboxPrefix), never `_INBOX.>`.
 */
export function natsPermissions(names: HooklineNames): Record<HooklineService, NatsPermissions> {
  const { streams, consumers, subjects, prefix } = names;
  const endpointsBucket = names.kv.endpoints;
  // Ingest's tenant registry; named as ingest names it.
  const tenantsBucket = `${prefix}_tenants`;
  const kvStream = (bucket: string) => `KV_${bucket}`;
  const sharedStreams = [...Object.values(streams), kvStream(endpointsBucket)];

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

  // What every service does at start: provision, and watch every stream's usage.
  const provisioning = [
    `${API}.INFO`,
    ...sharedStreams.flatMap((stream) => [
      `${API}.STREAM.INFO.${stream}`,
      `${API}.STREAM.CREATE.${stream}`,
      `${API}.STREAM.UPDATE.${stream}`,
    ]),
    ...[
      [streams.dispatch, consumers.deliveryFresh],
      [streams.dispatchRetry, consumers.deliveryRetry],
      [streams.outcomes, consumers.classifier],
      [streams.deadletter, consumers.dlqStore],
      [streams.advisories, consumers.classifierPoison],
    ].flatMap(([stream = "", consumer = ""]) => [
      consumerInfo(stream, consumer),
      ...consumerCreate(stream, consumer),
    ]),
  ];

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

  const own = (service: HooklineService, publish: string[]): NatsPermissions => ({
    publish: [...new Set([...provisioning, ...publish])],
    subscribe: [`${natsInboxPrefix(prefix, service)}.>`],
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
      `${API}.STREAM.CREATE.${kvStream(tenantsBucket)}`,
      `${API}.STREAM.UPDATE.${kvStream(tenantsBucket)}`,
      ...bucketReader(tenantsBucket),
      ...bucketWriter(tenantsBucket),
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
    ]),
    // Consumes failed outcomes, holds retries in tiers, dead-letters, disables endpoints.
    classifier: own("classifier", [
      subjects.retryAll,
      subjects.dispatchRetryAll,
      subjects.deadletterAll,
      ...pull(streams.outcomes, consumers.classifier),
      ...pull(streams.advisories, consumers.classifierPoison),
      acks(streams.outcomes),
      acks(streams.retry),
      acks(streams.advisories),
      // retry-<tier>: one durable per tier of RETRY_TIERS, and former tiers found by listing
      `${API}.CONSUMER.LIST.${streams.retry}`,
      `${API}.CONSUMER.CREATE.${streams.retry}.*`,
      `${API}.CONSUMER.CREATE.${streams.retry}.*.>`,
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
      ...bucketReader(endpointsBucket),
    ]),
  };
}

/** The env variable nats-server reads a service user's password from. */
export function natsPasswordVariable(service: HooklineService): string {
  return `${service.toUpperCase()}_NATS_PASSWORD`;
}

/**
 * nats-server's `authorization` block: one user per service with its permissions, each password
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
  const users = HOOKLINE_SERVICES.map((service) =>
    [
      "    {",
      `      user: ${service}`,
      `      password: $${natsPasswordVariable(service)}`,
      "      permissions: {",
      ...allow("publish", permissions[service].publish),
      ...allow("subscribe", permissions[service].subscribe),
      "      }",
      "    }",
    ].join("\n"),
  );
  return [
    `# One NATS user per Hookline service (HOOKLINE_PREFIX=${names.prefix}), each allowed only the`,
    "# subjects it needs. Generated by kit's natsUsersConfig (packages/kit/src/nats-permissions.ts):",
    "# edit that and run `pnpm exec tsx scripts/render-nats-users.ts`, never this file.",
    "# Passwords come from nats-server's environment (the nats-users Secret).",
    "authorization {",
    "  users = [",
    users.join("\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}
