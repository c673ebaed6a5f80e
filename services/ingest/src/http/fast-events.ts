import { hash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type ApiToken, type Logger, problemResponse, type ServiceMetrics } from "@hookline/kit";
import type { Context } from "hono";
import type { IngestApp } from "../app";
import type { EventPublisher } from "../events/publisher";
import type { IngestMetrics } from "../metrics";
import { answerPublishEvent } from "../routes/publish-event";
import { answerPublishBatch } from "../routes/publish-event-batch";
import { BATCH_PATH, type IngestBodyLimits } from "./body-limits";
import { checkBatch, checkEvent, checkIdempotencyKey } from "./event-checks";

export interface FastEventRoutesDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  ingestMetrics: IngestMetrics;
  tokens: readonly ApiToken[];
  limits: IngestBodyLimits;
  events: EventPublisher;
}

type Fetch = IngestApp["fetch"];
type HeaderOf = (name: string) => string | undefined;

const EVENTS_PATH = "/v1/events";
const BEARER = /^Bearer\s+(\S+)\s*$/i;
const DIGITS = /^\d+$/;
/** A subset of what the routes take as JSON; any other Content-Type goes the validated way. */
const JSON_CONTENT_TYPE = /^application\/json(;\s*charset=utf-8)?$/i;
/** hono's requestId middleware: a client's X-Request-Id is kept when it looks like this. */
const REQUEST_ID_REFUSED = /[^\w\-=]/;
const REQUEST_ID_MAX = 255;

/** One-shot: no Hash object per request. */
const sha256 = (text: string) => hash("sha256", text, "buffer");

/**
 * kit's tokenHolder with the tokens' digests computed once: every token is still compared, in
 * constant time over equal-length digests.
 */
function tokenMatcher(tokens: readonly ApiToken[]): (presented: string) => string | undefined {
  const known = tokens.map(({ name, token }) => ({ name, digest: sha256(token) }));
  return (presented) => {
    const digest = sha256(presented);
    let holder: string | undefined;
    for (const { name, digest: expected } of known) {
      if (timingSafeEqual(expected, digest) && holder === undefined) holder = name;
    }
    return holder;
  };
}

/** The path of a Request's absolute URL when it has no query; undefined otherwise. */
function pathOf(url: string): string | undefined {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0 || url.includes("?", start) || url.includes("#", start)) return undefined;
  return url.slice(start);
}

/**
 * Headers straight from Node's IncomingMessage (under @hono/node-server), without building a
 * web Headers object. Node keeps only the first of repeated Authorization or Content-Type
 * lines where Headers would join them, so such a request goes the validated way: undefined.
 */
function incomingHeaders(incoming: IncomingMessage): HeaderOf | undefined {
  const raw = incoming.rawHeaders;
  let authorization = 0;
  let contentType = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (name.length === 13 && name.toLowerCase() === "authorization") authorization++;
    else if (name.length === 12 && name.toLowerCase() === "content-type") contentType++;
  }
  if (authorization > 1 || contentType > 1) return undefined;
  const headers = incoming.headers;
  return (name) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  };
}

/**
 * Enough of a hono Context for the routes' answer functions and kit's problemResponse: the
 * answers are built by the same code as on the validated route, with the same X-Request-Id.
 */
function answerContext(path: string, requestId: string): Context {
  const shim = {
    req: { path },
    get: (key: string) => (key === "requestId" ? requestId : undefined),
    json: (object: unknown, status: number) =>
      new Response(JSON.stringify(object), {
        status,
        headers: { "x-request-id": requestId, "content-type": "application/json" },
      }),
    body: (text: string, status: number, headers?: Record<string, string>) =>
      new Response(text, { status, headers: { "x-request-id": requestId, ...headers } }),
  };
  return shim as unknown as Context;
}

/**
 * The fast path of POST /v1/events and POST /v1/events/batch, in front of the app's fetch.
 *
 * The hot routes otherwise cost more in the generic machinery (web Headers, request id, metrics
 * by matched route, body limit, bearer auth, media-type gate, zod) than in publishing. This path
 * takes a request only when everything about it is plainly fine: a Content-Length within the
 * limit and no Transfer-Encoding, a JSON Content-Type, a known bearer token (compared in
 * constant time), a valid Idempotency-Key, a body that parses and passes the checks of
 * event-checks.ts. Anything else, before or after reading the body, is handed to the app
 * unchanged (the body it read travels along), so every refusal is the validated route's own
 * answer, word for word. What it answers itself (202, and the publisher's 413, 400 and 503)
 * comes from the routes' answer functions, with the request id, HTTP metrics and rejected-event
 * count the app's middleware would give.
 */
export function installFastEventRoutes(app: IngestApp, deps: FastEventRoutesDeps): void {
  const validated: Fetch = app.fetch;
  const holder = tokenMatcher(deps.tokens);
  const { httpRequests, httpDuration } = deps.metrics;

  const routes = {
    [EVENTS_PATH]: {
      maxBytes: deps.limits.maxBodyBytes,
      answer: async (c: Context, body: unknown, header: HeaderOf) => {
        const input = checkEvent(body);
        if (input === undefined) return undefined;
        return answerPublishEvent(
          c,
          await deps.events.publish(input, header("idempotency-key") || undefined),
        );
      },
    },
    [BATCH_PATH]: {
      maxBytes: deps.limits.maxBatchBytes,
      answer: async (c: Context, body: unknown) => {
        const inputs = checkBatch(body);
        if (inputs === undefined) return undefined;
        return answerPublishBatch(c, await deps.events.publishBatch(inputs));
      },
    },
  } as const;

  /** The app's own metrics middleware, for answers given here. */
  const countAnswer = (path: string, status: number, started: number) => {
    const labels = { method: "POST", route: path, status: String(status) };
    httpRequests.inc(labels);
    httpDuration.observe(labels, (performance.now() - started) / 1000);
    if (status >= 400 && status < 500) deps.ingestMetrics.events.inc({ outcome: "rejected" });
  };

  const serve = async (
    request: Request,
    env: unknown,
    path: typeof EVENTS_PATH | typeof BATCH_PATH,
    header: HeaderOf,
    started: number,
    executionCtx: Parameters<Fetch>[2],
  ): Promise<Response> => {
    const clientId = header("x-request-id");
    const requestId =
      clientId === undefined ||
      clientId.length === 0 ||
      clientId.length > REQUEST_ID_MAX ||
      REQUEST_ID_REFUSED.test(clientId)
        ? randomUUID()
        : clientId;
    const c = answerContext(path, requestId);
    let response: Response | undefined;
    try {
      let text: string | undefined;
      try {
        text = await request.text();
      } catch {
        // The client went away mid-body; the validated route answers this way too.
        response = problemResponse(c, {
          status: 400,
          code: "http_error",
          title: "Malformed JSON in request body",
        });
      }
      if (text !== undefined) {
        let body: unknown;
        let parsed = true;
        try {
          body = JSON.parse(text);
        } catch {
          parsed = false;
        }
        if (parsed) response = await routes[path].answer(c, body, header);
        if (response === undefined) {
          // Refused: the validated route reads the same body and words the answer.
          const again = new Request(request.url, {
            method: "POST",
            headers: request.headers,
            body: text,
          });
          return validated(again, env, executionCtx);
        }
      }
    } catch (error) {
      // As the app's onError: nothing thrown here may reach the client as anything but this.
      deps.logger.error({ err: error, requestId, route: path }, "unhandled error");
      response = problemResponse(c, {
        status: 500,
        code: "internal",
        title: "Internal server error",
      });
    }
    const answer = response as Response;
    countAnswer(path, answer.status, started);
    return answer;
  };

  app.fetch = (request, env, executionCtx) => {
    if (request.method !== "POST") return validated(request, env, executionCtx);
    const path = pathOf(request.url);
    if (path !== EVENTS_PATH && path !== BATCH_PATH) return validated(request, env, executionCtx);
    const started = performance.now();
    const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const header: HeaderOf | undefined =
      incoming?.rawHeaders === undefined
        ? (name) => request.headers.get(name) ?? undefined
        : incomingHeaders(incoming);
    if (header === undefined || header("transfer-encoding") !== undefined) {
      return validated(request, env, executionCtx);
    }
    const length = header("content-length");
    if (length === undefined || !DIGITS.test(length) || Number(length) > routes[path].maxBytes) {
      return validated(request, env, executionCtx);
    }
    const contentType = header("content-type");
    if (contentType === undefined || !JSON_CONTENT_TYPE.test(contentType)) {
      return validated(request, env, executionCtx);
    }
    const bearer = BEARER.exec(header("authorization") ?? "")?.[1];
    if (bearer === undefined || holder(bearer) === undefined) {
      return validated(request, env, executionCtx);
    }
    if (path === EVENTS_PATH && !checkIdempotencyKey(header("idempotency-key"))) {
      return validated(request, env, executionCtx);
    }
    return serve(request, env, path, header, started, executionCtx);
  };
}
