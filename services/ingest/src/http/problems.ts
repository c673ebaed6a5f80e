import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { type KitEnv, problemResponse } from "@hookline/kit";
import type { Context } from "hono";
import type { UnavailableReason } from "../events/publisher";

/** The RFC 9457 body every error answer carries (kit's problemResponse writes it). */
export const problemSchema = z
  .object({
    type: z.string().openapi({ example: "https://hookline.dev/problems/invalid_request" }),
    title: z.string().openapi({ example: "Invalid json" }),
    status: z.number().int().openapi({ example: 400 }),
    code: z.string().openapi({ example: "invalid_request" }),
    detail: z.string().optional().openapi({ example: "eventType: Invalid input" }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    instance: z.string().openapi({ example: "/v1/events" }),
    requestId: z.string().optional(),
  })
  .openapi("Problem");

const problemKinds = {
  BadRequest: "The request is malformed or a field is invalid; `errors` names each field.",
  Unauthorized: "Missing or unknown bearer token.",
  NotFound: "No endpoint has this id.",
  Conflict: "The endpoint kept changing under concurrent writes; retry.",
  PayloadTooLarge: "The body exceeds the configured size limit.",
  Unavailable: "NATS is unavailable or the dispatch stream is full; retry after `Retry-After`.",
} as const;
type ProblemKind = keyof typeof problemKinds;

/**
 * Error answers are shared response components, referenced by each route. A reference (rather
 * than inline content) also lets handlers return kit's problemResponse, a plain Response.
 */
export const problemRef = Object.fromEntries(
  Object.keys(problemKinds).map((kind) => [kind, { $ref: `#/components/responses/${kind}` }]),
) as Record<ProblemKind, { $ref: string }>;

export function registerProblemComponents(app: OpenAPIHono<KitEnv>): void {
  app.openAPIRegistry.register("Problem", problemSchema);
  for (const [kind, description] of Object.entries(problemKinds)) {
    app.openAPIRegistry.registerComponent("responses", kind, {
      description,
      content: {
        "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
      },
    });
  }
}

export function endpointNotFound(c: Context, id: string) {
  return problemResponse(c, {
    status: 404,
    code: "endpoint_not_found",
    title: "Endpoint not found",
    detail: `no endpoint with id ${JSON.stringify(id)}`,
  });
}

export function endpointConflict(c: Context) {
  return problemResponse(c, {
    status: 409,
    code: "concurrent_update",
    title: "Concurrent update",
    detail: "the endpoint kept changing while this write was retried; try again",
  });
}

/** 503 with Retry-After: the client retries, and JetStream's dedupe makes a retry harmless. */
export function serviceUnavailable(c: Context, detail: string, retryAfterSeconds = 1) {
  return problemResponse(
    c,
    { status: 503, code: "unavailable", title: "Service unavailable", detail },
    { "retry-after": String(retryAfterSeconds) },
  );
}

export function payloadTooLarge(c: Context, detail: string) {
  return problemResponse(c, {
    status: 413,
    code: "payload_too_large",
    title: "Payload too large",
    detail,
  });
}

const eventsUnavailableDetail: Record<UnavailableReason, string> = {
  nats_disconnected: "NATS is not connected; the event was not stored",
  publish_timeout: "JetStream did not acknowledge in time; the event may not be stored",
  stream_full: "the dispatch stream is full; the event was not stored",
  stream_unavailable: "the dispatch stream is not available; the event was not stored",
  publish_failed: "storing the event failed",
};

/** A full stream drains at delivery speed, so it gets a longer pause than a reconnect. */
export function eventsUnavailable(c: Context, reason: UnavailableReason) {
  return serviceUnavailable(c, eventsUnavailableDetail[reason], reason === "stream_full" ? 2 : 1);
}
