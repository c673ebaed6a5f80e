import {
  DEFAULT_TENANT_ID,
  type DeadLetterMeta,
  type EndpointRecord,
  encodeDeadLetter,
  type HooklineNames,
  taskIdFor,
} from "@hookline/contracts";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { IncomingLetter } from "../store/incoming";

/** A valid endpoint id whose last characters are `n` (Crockford digits 0-9 and letters). */
export function endpointId(n: number): string {
  return `ep_01JD8Z6Q3V4W5X6Y7Z8A9B${String(n).padStart(4, "0")}`;
}

export function endpointUrl(id: string): string {
  return `https://hooks.example.com/${id}`;
}

/**
 * Registers an endpoint in KV as ingest would, so the endpoint cache knows its URL; without a
 * tenant it is `default`'s.
 */
export async function putEndpoint(kv: KV, id: string, tenantId?: string): Promise<EndpointRecord> {
  const at = new Date().toISOString();
  const record: EndpointRecord = {
    id,
    ...(tenantId === undefined ? {} : { tenantId }),
    url: endpointUrl(id),
    eventTypes: [],
    secrets: [{ value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: at }],
    disabled: false,
    createdAt: at,
    updatedAt: at,
  };
  await kv.put(id, JSON.stringify(record));
  return record;
}

export function deadLetterMeta(overrides: Partial<DeadLetterMeta> = {}): DeadLetterMeta {
  const eventId = overrides.eventId ?? "evt_1";
  const endpoint = overrides.endpointId ?? endpointId(1);
  const createdAt = overrides.createdAt ?? 1_735_732_800_000;
  return {
    taskId: taskIdFor(eventId, endpoint),
    eventId,
    eventType: "order.created",
    endpointId: endpoint,
    attempt: 2,
    deferrals: 0,
    createdAt,
    deadline: createdAt + 3 * 86_400_000,
    history: [
      { n: 1, at: createdAt + 1_000, result: "http_error", status: 500, ms: 12 },
      { n: 2, at: createdAt + 6_000, result: "http_error", status: 400, ms: 9 },
    ],
    reason: "non_retryable",
    ...overrides,
  };
}

export function webhookBody(eventType: string, data: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({ type: eventType, timestamp: "2025-01-01T12:00:00.000Z", data }),
  );
}

/** Publishes a dead letter the way the classifier does. */
export function publishDeadLetter(
  js: JetStreamClient,
  names: HooklineNames,
  meta: DeadLetterMeta,
  body: Uint8Array = webhookBody(meta.eventType, { id: meta.eventId }),
  msgId = `${meta.taskId}#dead${meta.attempt}:${meta.history.at(-1)?.at ?? 0}`,
): Promise<PubAck> {
  return js.publish(names.subjects.deadletter(meta.endpointId), body, {
    headers: encodeDeadLetter(meta, msgId),
  });
}

let sequence = 0;

/** A decoded letter for storeLetter, dead at `deadAt`, unique unless `taskId` is given. */
export function incomingLetter(overrides: Partial<IncomingLetter> = {}): IncomingLetter {
  sequence++;
  const endpoint = overrides.endpointId ?? endpointId(1);
  const eventId = overrides.eventId ?? `evt_${sequence}`;
  const eventType = overrides.eventType ?? "order.created";
  const deadAt = overrides.deadAt ?? new Date(1_735_732_800_000 + sequence * 1_000);
  return {
    taskId: taskIdFor(eventId, endpoint),
    eventId,
    eventType,
    endpointId: endpoint,
    tenantId: DEFAULT_TENANT_ID,
    reason: "exhausted",
    attemptCount: 1,
    attempts: [{ n: 1, at: deadAt.getTime() - 500, result: "http_error", status: 503, ms: 20 }],
    lastStatus: 503,
    lastError: null,
    createdAt: new Date(deadAt.getTime() - 60_000),
    deadAt,
    body: webhookBody(eventType, { eventId }),
    headers: { "Hookline-Reason": overrides.reason ?? "exhausted" },
    replayOf: null,
    ...overrides,
  };
}
