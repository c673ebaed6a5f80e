import {
  DEFAULT_TENANT_ID,
  type EndpointFormat,
  type EndpointRecord,
  type HooklineNames,
  isBacklogFull,
  type TaskMeta,
  taskIdFor,
} from "@hookline/contracts";
import { type EndpointCache, type Logger, publishTaskDeadLetter } from "@hookline/kit";
import { JetStreamApiError, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { ulid } from "ulid";
import type { IngestMetrics } from "../metrics";
import type { BacklogQuotas } from "./backlog-quotas";
import { webhookBody } from "./envelope";
import { chatBody, chatMessageOf } from "./formats";
import { pooledRandom } from "./pooled-random";
import { jetStreamTaskPublisher, type TaskPublisher } from "./task-publisher";

export interface EventInput {
  /** Fan-out reaches only this tenant's endpoints; DEFAULT_TENANT_ID when absent. */
  tenantId?: string | undefined;
  eventType: string;
  payload: unknown;
  id?: string | undefined;
  /** Narrows fan-out to these of the subscribed endpoints. */
  endpointIds?: string[] | undefined;
}

export type UnavailableReason =
  | "nats_disconnected"
  | "publish_timeout"
  | "stream_full"
  | "stream_unavailable"
  | "publish_failed";

/** `duplicate`: there was at least one task and JetStream already held every one of them. */
export type EventResult =
  | { outcome: "accepted"; eventId: string; tasks: number }
  | { outcome: "duplicate"; eventId: string; tasks: number };
export type Unavailable = { outcome: "unavailable"; reason: UnavailableReason };
/** The webhook body would not fit in a NATS message, so retrying could never succeed. */
export type TooLarge = { outcome: "too_large"; bytes: number; limit: number };
/** JSON.stringify refused the payload (the schema's depth limit should have caught it first). */
export type Unserialisable = { outcome: "unserialisable"; error: string };

/**
 * Ids are decided before anything is published, so a 503 can name them: a retry with the same
 * id maps to the same tasks (JetStream dedupe) and the same webhook-id.
 */
export type PublishEventOutcome =
  | EventResult
  | (Unavailable & { eventId: string })
  | TooLarge
  | Unserialisable;
export type PublishBatchOutcome =
  | { outcome: "accepted"; results: EventResult[] }
  | (Unavailable & { eventIds: string[] })
  | ((TooLarge | Unserialisable) & { index: number });

export interface EventPublisher {
  publish(event: EventInput, idempotencyKey?: string): Promise<PublishEventOutcome>;
  /** All tasks of all events are published at once; any failure fails the whole batch. */
  publishBatch(events: EventInput[]): Promise<PublishBatchOutcome>;
}

export interface EventPublisherOptions {
  /** Dead letters (backlog_full) go through it, and tasks too unless `tasks` is given. */
  js: JetStreamClient;
  /** Stores the tasks; default `js.publish` (main.ts passes the cheaper pubAckTaskPublisher). */
  tasks?: TaskPublisher;
  names: HooklineNames;
  cache: Pick<EndpointCache, "subscribedTo">;
  isConnected: () => boolean;
  metrics: IngestMetrics;
  logger: Logger;
  /** Retrying stops this long after acceptance (`Hookline-Deadline`). */
  taskDeadlineMs: number;
  /** Endpoints' own backlog quotas (below the server's ENDPOINT_BACKLOG_QUOTA). */
  quotas?: Pick<BacklogQuotas, "admit">;
  /** Largest webhook body accepted, at most what the NATS server takes in one message. */
  maxEventBytes: number;
  /** The tenant of operational events: their chat messages say what happened. */
  systemTenantId?: string;
  publishTimeoutMs?: number;
  now?: () => number;
}

interface PlannedEvent {
  tenantId: string;
  eventId: string;
  eventType: string;
  payload: unknown;
  body: Buffer;
  endpoints: EndpointRecord[];
}

export const DEFAULT_PUBLISH_TIMEOUT_MS = 2_000;

export function unavailableReason(error: unknown): UnavailableReason {
  if (error instanceof errors.TimeoutError) return "publish_timeout";
  if (error instanceof errors.NoRespondersError) return "stream_unavailable";
  if (error instanceof errors.RequestError && error.isNoResponders()) return "stream_unavailable";
  if (error instanceof JetStreamApiError) {
    // discard:new at the byte limit, or the server out of storage.
    return /maximum|exceeded|resources|storage/i.test(error.message)
      ? "stream_full"
      : "publish_failed";
  }
  if (error instanceof errors.ClosedConnectionError || error instanceof errors.ConnectionError) {
    return "nats_disconnected";
  }
  return "publish_failed";
}

export function createEventPublisher(options: EventPublisherOptions): EventPublisher {
  const { js, names, cache, isConnected, metrics, logger } = options;
  const now = options.now ?? Date.now;
  const timeout = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const tasks = options.tasks ?? jetStreamTaskPublisher(js, timeout);
  const random = pooledRandom();

  const plan = (
    event: EventInput,
    acceptedAt: number,
    idempotencyKey?: string,
  ): PlannedEvent | Unserialisable => {
    let body: Buffer;
    try {
      body = webhookBody(event.eventType, event.payload, acceptedAt);
    } catch (error) {
      return { outcome: "unserialisable", error: String(error) };
    }
    // Disabled endpoints get tasks too: delivery dead-letters them as endpoint_disabled, so
    // operators can replay what arrived while an endpoint was off.
    const tenantId = event.tenantId ?? DEFAULT_TENANT_ID;
    let endpoints = cache.subscribedTo(tenantId, event.eventType);
    if (event.endpointIds !== undefined) {
      const wanted = new Set(event.endpointIds);
      endpoints = endpoints.filter((endpoint) => wanted.has(endpoint.id));
    }
    return {
      tenantId,
      eventId: event.id ?? idempotencyKey ?? `evt_${ulid(acceptedAt, random)}`,
      eventType: event.eventType,
      payload: event.payload,
      body,
      endpoints,
    };
  };

  /**
   * Standard Webhooks' body, or a chat message's for a slack or discord endpoint: rendered once
   * per format and event, kept in `rendered`, which only events with such endpoints create.
   */
  const chatBodyOf = (
    event: PlannedEvent,
    format: Exclude<EndpointFormat, "standard">,
    rendered: Map<EndpointFormat, Buffer>,
  ): Buffer => {
    let body = rendered.get(format);
    if (body === undefined) {
      const system = event.tenantId === options.systemTenantId;
      body = Buffer.from(chatBody(format, chatMessageOf({ ...event, system })), "utf8");
      rendered.set(format, body);
    }
    return body;
  };

  const publishTasks = (event: PlannedEvent, acceptedAt: number): Promise<PubAck>[] => {
    const deadline = acceptedAt + options.taskDeadlineMs;
    let rendered: Map<EndpointFormat, Buffer> | undefined;
    return event.endpoints.map((endpoint) => {
      const format = endpoint.format;
      let body = event.body;
      if (format !== undefined && format !== "standard") {
        rendered ??= new Map();
        body = chatBodyOf(event, format, rendered);
      }
      const taskId = taskIdFor(event.eventId, endpoint.id);
      const task: TaskMeta = {
        taskId,
        eventId: event.eventId,
        eventType: event.eventType,
        endpointId: endpoint.id,
        tenantId: event.tenantId,
        attempt: 0,
        deferrals: 0,
        createdAt: acceptedAt,
        deadline,
      };
      // The endpoint has its quota of tasks waiting: this one is stored as a dead letter
      // instead, so it is not lost and nothing else waits behind it.
      const backlogFull = () =>
        publishTaskDeadLetter({
          js,
          names,
          task,
          body,
          reason: "backlog_full",
          msgId: `${taskId}#backlog`,
        });
      if (options.quotas?.admit(endpoint) === false) return backlogFull();
      return tasks
        .publish(names.subjects.dispatchFresh(endpoint.id), body, task, taskId)
        .catch((error: unknown) => {
          // The deployment's ENDPOINT_BACKLOG_QUOTA, enforced by the server per endpoint.
          if (!isBacklogFull(error)) throw error;
          return backlogFull();
        });
    });
  };

  /** Publishes every task of every event in parallel and waits for all PubAcks. */
  const publishAll = async (
    events: PlannedEvent[],
    acceptedAt: number,
  ): Promise<{ outcome: "stored"; results: EventResult[] } | Unavailable> => {
    const settled = await Promise.allSettled(
      events.flatMap((event) => publishTasks(event, acceptedAt)),
    );
    let stored = 0;
    let failure: unknown;
    for (const result of settled) {
      if (result.status === "rejected") failure ??= result.reason;
      else if (!result.value.duplicate) stored++;
    }
    metrics.tasks.inc(stored);
    if (failure !== undefined) {
      const reason = unavailableReason(failure);
      logger.warn(
        { err: failure, reason, events: events.length, tasks: settled.length },
        "publishing tasks failed; answering 503",
      );
      metrics.events.inc({ outcome: "unavailable" }, events.length);
      return { outcome: "unavailable", reason };
    }
    let offset = 0;
    let duplicates = 0;
    const results = events.map((event): EventResult => {
      const acks = settled.slice(offset, offset + event.endpoints.length);
      offset += event.endpoints.length;
      const tasks = acks.length;
      const duplicate =
        tasks > 0 && acks.every((ack) => ack.status === "fulfilled" && ack.value.duplicate);
      if (!duplicate) return { outcome: "accepted", eventId: event.eventId, tasks };
      duplicates++;
      return { outcome: "duplicate", eventId: event.eventId, tasks };
    });
    // Once per outcome, not per event: a labelled inc hashes its labels every time.
    if (duplicates < events.length) {
      metrics.events.inc({ outcome: "accepted" }, events.length - duplicates);
    }
    if (duplicates > 0) metrics.events.inc({ outcome: "duplicate" }, duplicates);
    return { outcome: "stored", results };
  };

  const disconnected = (count: number): Unavailable => {
    metrics.events.inc({ outcome: "unavailable" }, count);
    return { outcome: "unavailable", reason: "nats_disconnected" };
  };

  const isPlanned = (event: PlannedEvent | Unserialisable): event is PlannedEvent =>
    !("outcome" in event);

  const tooLarge = (event: PlannedEvent): TooLarge | undefined =>
    event.body.length > options.maxEventBytes
      ? { outcome: "too_large", bytes: event.body.length, limit: options.maxEventBytes }
      : undefined;

  return {
    async publish(input, idempotencyKey) {
      const acceptedAt = now();
      const event = plan(input, acceptedAt, idempotencyKey);
      if (!isPlanned(event)) return event;
      const rejected = tooLarge(event);
      if (rejected !== undefined) return rejected;
      if (!isConnected()) return { ...disconnected(1), eventId: event.eventId };
      const published = await publishAll([event], acceptedAt);
      if (published.outcome === "unavailable") return { ...published, eventId: event.eventId };
      const [result] = published.results;
      if (result === undefined) throw new Error("one event published, no result");
      return result;
    },

    async publishBatch(inputs) {
      const acceptedAt = now();
      const events: PlannedEvent[] = [];
      for (const [index, input] of inputs.entries()) {
        const event = plan(input, acceptedAt);
        if (!isPlanned(event)) return { ...event, index };
        const rejected = tooLarge(event);
        if (rejected !== undefined) return { ...rejected, index };
        events.push(event);
      }
      const eventIds = events.map((event) => event.eventId);
      if (!isConnected()) return { ...disconnected(events.length), eventIds };
      const published = await publishAll(events, acceptedAt);
      if (published.outcome === "unavailable") return { ...published, eventIds };
      return { outcome: "accepted", results: published.results };
    },
  };
}
