import { problemResponse, problemResponses } from "@hookline/kit";
import type { Context } from "hono";
import type { UnavailableReason } from "../events/publisher";

const problemKinds = {
  BadRequest: "The request is malformed or a field is invalid; `errors` names each field.",
  Unauthorized: "Missing or unknown bearer token.",
  NotFound: "No endpoint has this id.",
  Conflict: "The endpoint kept changing under concurrent writes; retry.",
  PayloadTooLarge: "The body exceeds the configured size limit.",
  Unavailable: "NATS is unavailable or the dispatch stream is full; retry after `Retry-After`.",
} as const;

const problems = problemResponses(problemKinds, {
  title: "Invalid json",
  detail: "eventType: Invalid input",
  instance: "/v1/events",
});

/** Error answers are shared response components, referenced by each route. */
export const problemRef = problems.refs;
export const registerProblemComponents = problems.register;

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

export function endpointStoreUnavailable(c: Context) {
  return serviceUnavailable(c, "the endpoint store (NATS KV) is unavailable");
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
