import { z } from "zod";
import { EVENT_ID_PATTERN, eventIdSchema } from "./ids";

/**
 * Operational events: facts Hookline emits about itself. A service publishes one to
 * `<prefix>.ops.<kind>` (the OPS stream); ingest turns each into an event of the system tenant,
 * type `hookline.<kind>`, fanned out to that tenant's endpoints like any POST /v1/events.
 */
export const OPS_EVENT_KINDS = [
  "endpoint.disabled",
  "endpoint.enabled",
  "breaker.opened",
  "breaker.closed",
  "task.dead_lettered",
  "deadletters.threshold",
  "endpoint.failure_rate",
] as const;
export type OpsEventKind = (typeof OPS_EVENT_KINDS)[number];

/** The tenant operational events belong to; an operator subscribes endpoints in it. */
export const SYSTEM_TENANT_ID = "hookline";

export const opsEventType = (kind: OpsEventKind): string => `hookline.${kind}`;

/** The API resource an event is about; ingest makes it an absolute URL (`link`). */
export const opsLinkSchema = z.object({
  service: z.enum(["ingest", "dlq"]),
  /** Path and query, starting with `/`. */
  path: z.string().startsWith("/").max(1_000),
});
export type OpsLink = z.infer<typeof opsLinkSchema>;

/** The data of a message on the OPS stream. */
export const opsEventMessageSchema = z.object({
  /** The webhook's event id: deterministic, so instances emitting the same fact dedupe. */
  id: eventIdSchema,
  kind: z.enum(OPS_EVENT_KINDS),
  /** ISO time of the fact. */
  occurredAt: z.iso.datetime(),
  /** Small JSON facts: endpointId, tenantId, counts, rate, threshold… */
  data: z.record(z.string(), z.unknown()),
  link: opsLinkSchema.optional(),
});
export type OpsEventMessage = z.infer<typeof opsEventMessageSchema>;

const ID_PART_UNSAFE = /[^A-Za-z0-9._:~-]/g;

/**
 * `ops_<kind>_<part>_<part>…`: the same fact (an endpoint's revision, a minute) gives the same
 * id in every instance, so the OPS stream's duplicate window, and then DISPATCH's, drop copies.
 */
export function opsEventId(kind: OpsEventKind, ...parts: (string | number)[]): string {
  const id = ["ops", kind, ...parts.map((part) => String(part).replace(ID_PART_UNSAFE, "-"))].join(
    "_",
  );
  if (!EVENT_ID_PATTERN.test(id)) throw new Error(`not an event id: ${id}`);
  return id;
}

/** A minute as a token of an event id: `2026-11-30T23:41Z`, colons kept (ids allow them). */
export function minuteToken(at: number): string {
  return `${new Date(Math.floor(at / 60_000) * 60_000).toISOString().slice(0, 16)}Z`;
}

export function encodeOpsEvent(event: OpsEventMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(opsEventMessageSchema.parse(event)));
}

export type DecodedOpsEvent = { ok: true; event: OpsEventMessage } | { ok: false; error: string };

export function decodeOpsEvent(data: Uint8Array): DecodedOpsEvent {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const parsed = opsEventMessageSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  return { ok: true, event: parsed.data };
}
