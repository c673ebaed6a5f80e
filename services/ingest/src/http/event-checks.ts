import { ENDPOINT_ID_PATTERN, EVENT_ID_PATTERN, EVENT_TYPE_PATTERN } from "@hookline/contracts";
import { MAX_PAYLOAD_DEPTH, nestsAtMost } from "../events/payload-depth";
import type { EventInput } from "../events/publisher";
import { MAX_BATCH_EVENTS, MAX_ENDPOINT_IDS } from "./event-schemas";

/**
 * The event schemas (event-schemas.ts) as plain checks for the fast path of the event routes:
 * each accepts exactly what its zod schema accepts (event-checks.test.ts compares them) and
 * says only yes or no. A no goes to the zod-validated route, which words the 400.
 */
export function checkEvent(value: unknown, tenantId?: string): EventInput | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { eventType, payload, id, endpointIds } = value as Record<string, unknown>;
  if (typeof eventType !== "string" || !EVENT_TYPE_PATTERN.test(eventType)) return undefined;
  if (payload === undefined || !nestsAtMost(payload, MAX_PAYLOAD_DEPTH)) return undefined;
  if (id !== undefined && (typeof id !== "string" || !EVENT_ID_PATTERN.test(id))) return undefined;
  if (endpointIds !== undefined) {
    if (!Array.isArray(endpointIds)) return undefined;
    if (endpointIds.length < 1 || endpointIds.length > MAX_ENDPOINT_IDS) return undefined;
    for (const endpointId of endpointIds) {
      if (typeof endpointId !== "string" || !ENDPOINT_ID_PATTERN.test(endpointId)) return undefined;
    }
  }
  return {
    tenantId,
    eventType,
    payload,
    ...(id === undefined ? {} : { id }),
    ...(endpointIds === undefined ? {} : { endpointIds: endpointIds as string[] }),
  };
}

/** `tenantId` (undefined: the default tenant) goes into every event. */
export function checkBatch(value: unknown, tenantId?: string): EventInput[] | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { events } = value as Record<string, unknown>;
  if (!Array.isArray(events) || events.length < 1 || events.length > MAX_BATCH_EVENTS) {
    return undefined;
  }
  const checked: EventInput[] = [];
  for (const event of events) {
    const input = checkEvent(event, tenantId);
    if (input === undefined) return undefined;
    checked.push(input);
  }
  return checked;
}

/** The Idempotency-Key header: absent, or an event id. */
export function checkIdempotencyKey(value: string | null | undefined): boolean {
  return value === null || value === undefined || EVENT_ID_PATTERN.test(value);
}
