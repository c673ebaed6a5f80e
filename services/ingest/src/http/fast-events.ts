import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import {
  type ApiToken,
  grantAllows,
  type Logger,
  problemResponse,
  type ServiceMetrics,
  type TokenGrant,
  tokenGrants,
} from "@hookline/kit";
import type { Context } from "hono";
import type { IngestApp } from "../app";
import type { EventPublisher } from "../events/publisher";
import type { IngestMetrics } from "../metrics";
import { answerPublishEvent } from "../routes/publish-event";
import { answerPublishBatch } from "../routes/publish-event-batch";
import type { TenantView } from "../tenants/tenant-view";
import { BATCH_PATH, type IngestBodyLimits, TENANTS_PREFIX } from "./body-limits";
import { checkBatch, checkEvent, checkIdempotencyKey } from "./event-checks";

export interface FastEventRoutesDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  ingestMetrics: IngestMetrics;
  tokens: readonly ApiToken[];
  limits: IngestBodyLimits;
  events: EventPublisher;
  tenants: Pick<TenantView, "state">;
}

/** A request header by lower-case name; repeated lines joined with ", " as web Headers do. */
export type HeaderOf = (name: string) => string | undefined;

/** An answer the fast path gives itself. */
export interface FastAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export const EVENTS_PATH = "/v1/events";
const TENANT_EVENTS_SUFFIX = "/events";
const TENANT_BATCH_SUFFIX = "/events/batch";

/** A request the fast path may take: which route, for which tenant. */
export interface FastRoute {
  kind: "event" | "batch";
  /** Undefined on the paths without a tenant: the default tenant. */
  tenantId: string | undefined;
  /** The request's path, as problem+json's `instance`. */
  path: string;
  /** The route's pattern, as the app's metrics label it. */
  label: string;
}

// The paths without a tenant need no object per request.
const DEFAULT_EVENT: FastRoute = {
  kind: "event",
  tenantId: undefined,
  path: EVENTS_PATH,
  label: EVENTS_PATH,
};
const DEFAULT_BATCH: FastRoute = {
  kind: "batch",
  tenantId: undefined,
  path: BATCH_PATH,
  label: BATCH_PATH,
};
const TENANT_EVENT_LABEL = "/v1/tenants/:tenantId/events";
const TENANT_BATCH_LABEL = "/v1/tenants/:tenantId/events/batch";

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const DIGITS = /^\d+$/;
/** A subset of what the routes take as JSON; any other Content-Type goes the validated way. */
const JSON_CONTENT_TYPE = /^application\/json(;\s*charset=utf-8)?$/i;
/** hono's requestId middleware: a client's X-Request-Id is kept when it looks like this. */
const REQUEST_ID_REFUSED = /[^\w\-=]/;
const REQUEST_ID_MAX = 255;

/**
 * Headers straight from Node's IncomingMessage, without building a web Headers object. Node
 * keeps only the first of repeated Authorization or Content-Type lines where Headers would join
 * them, so such a request goes the validated way: undefined.
 */
export function incomingHeaders(incoming: IncomingMessage): HeaderOf | undefined {
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
 * Enough of a hono Context for the routes' answer functions and kit's problemResponse, which
 * build the answers here with the same code as on the validated routes. It keeps the answer
 * instead of making a Response: the caller writes it the way its server needs.
 */
class AnswerContext {
  answer: FastAnswer | undefined;
  readonly req: { path: string };
  constructor(
    path: string,
    private readonly requestId: string,
  ) {
    this.req = { path };
  }
  get(key: string) {
    return key === "requestId" ? this.requestId : undefined;
  }
  json(object: unknown, status: number) {
    return this.body(JSON.stringify(object), status, { "content-type": "application/json" });
  }
  body(text: string, status: number, headers?: Record<string, string>) {
    this.answer = { status, headers: { "x-request-id": this.requestId, ...headers }, body: text };
    return this;
  }
}

/**
 * The fast path of POST /v1/events and POST /v1/events/batch, and of both under
 * /v1/tenants/{tenantId}/ for a tenant that exists and is not being deleted (a map lookup).
 *
 * The hot routes otherwise cost more in the generic machinery (web Request and Headers,
 * request id, metrics by matched route, body limit, bearer auth, media-type gate, zod) than in
 * publishing. This path takes a request only when everything about it is plainly fine: a
 * Content-Length within the limit and no Transfer-Encoding, a JSON Content-Type, a known bearer
 * token (compared in constant time) with events:write and not bound to another tenant, a valid
 * Idempotency-Key, a body that parses and passes the checks of event-checks.ts. Anything else, before or after reading the body, is handed to the
 * app unchanged (with the body it read), so every refusal is the validated route's own answer,
 * word for word. What it answers itself (202, and the publisher's 413, 400 and 503) comes from
 * the routes' answer functions, with the request id, HTTP metrics and rejected-event count the
 * app's middleware would give.
 *
 * It sits in front of the app's fetch (installFastEventRoutes), so app.request and every
 * server see it; under @hono/node-server it reads headers from Node's IncomingMessage.
 */
export class FastEventRoutes {
  private readonly grantFor: (presented: string) => TokenGrant | undefined;

  constructor(private readonly deps: FastEventRoutesDeps) {
    this.grantFor = tokenGrants(deps.tokens);
  }

  /**
   * The fast route for a method and path (no query), if any: /v1/events, /v1/events/batch and
   * the same under /v1/tenants/{tenantId}/ (the id as it appears in the path).
   */
  static route(method: string | undefined, path: string | undefined): FastRoute | undefined {
    if (method !== "POST" || path === undefined) return undefined;
    if (path === EVENTS_PATH) return DEFAULT_EVENT;
    if (path === BATCH_PATH) return DEFAULT_BATCH;
    if (!path.startsWith(TENANTS_PREFIX)) return undefined;
    const slash = path.indexOf("/", TENANTS_PREFIX.length);
    if (slash <= TENANTS_PREFIX.length) return undefined;
    const tail = path.length - slash;
    let kind: FastRoute["kind"];
    if (tail === TENANT_EVENTS_SUFFIX.length && path.endsWith(TENANT_EVENTS_SUFFIX)) {
      kind = "event";
    } else if (tail === TENANT_BATCH_SUFFIX.length && path.endsWith(TENANT_BATCH_SUFFIX)) {
      kind = "batch";
    } else {
      return undefined;
    }
    return {
      kind,
      tenantId: path.slice(TENANTS_PREFIX.length, slash),
      path,
      label: kind === "event" ? TENANT_EVENT_LABEL : TENANT_BATCH_LABEL,
    };
  }

  /** Everything the headers can say before the body is read: false sends it the validated way. */
  admits(route: FastRoute, header: HeaderOf): boolean {
    // An unknown tenant or one being deleted: the validated route words the 404 or 409. An id
    // percent-encoded in the path is no key of the view either, so it goes that way too.
    if (route.tenantId !== undefined && this.deps.tenants.state(route.tenantId) !== "open") {
      return false;
    }
    if (header("transfer-encoding") !== undefined) return false;
    const length = header("content-length");
    const maxBytes =
      route.kind === "event" ? this.deps.limits.maxBodyBytes : this.deps.limits.maxBatchBytes;
    if (length === undefined || !DIGITS.test(length) || Number(length) > maxBytes) {
      return false;
    }
    const contentType = header("content-type");
    if (contentType === undefined || !JSON_CONTENT_TYPE.test(contentType)) return false;
    const bearer = BEARER.exec(header("authorization") ?? "")?.[1];
    const grant = bearer === undefined ? undefined : this.grantFor(bearer);
    // A token without events:write, or bound to another tenant: the validated route's 403/404.
    if (grant === undefined || !grantAllows(grant.scopes, "events:write")) return false;
    if (grant.tenantId !== undefined && grant.tenantId !== (route.tenantId ?? DEFAULT_TENANT_ID)) {
      return false;
    }
    return route.kind !== "event" || checkIdempotencyKey(header("idempotency-key"));
  }

  /**
   * The answer to an admitted request whose body is `text` (undefined: it could not be read),
   * or undefined when the validated route must answer (the body is not a valid request).
   * `started` is performance.now() at arrival, for the duration metric.
   */
  async answer(
    route: FastRoute,
    header: HeaderOf,
    text: string | undefined,
    started: number,
  ): Promise<FastAnswer | undefined> {
    const clientId = header("x-request-id");
    const requestId =
      clientId === undefined ||
      clientId.length === 0 ||
      clientId.length > REQUEST_ID_MAX ||
      REQUEST_ID_REFUSED.test(clientId)
        ? randomUUID()
        : clientId;
    const c = new AnswerContext(route.path, requestId);
    const context = c as unknown as Context;
    try {
      if (text === undefined) {
        // The client went away mid-body; the validated route answers this way too.
        problemResponse(context, {
          status: 400,
          code: "http_error",
          title: "Malformed JSON in request body",
        });
      } else {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return undefined;
        }
        if (route.kind === "event") {
          const input = checkEvent(body, route.tenantId);
          if (input === undefined) return undefined;
          const key = header("idempotency-key") || undefined;
          answerPublishEvent(context, await this.deps.events.publish(input, key));
        } else {
          const inputs = checkBatch(body, route.tenantId);
          if (inputs === undefined) return undefined;
          answerPublishBatch(context, await this.deps.events.publishBatch(inputs));
        }
      }
    } catch (error) {
      // As the app's onError: nothing thrown here reaches the client as anything but this.
      this.deps.logger.error({ err: error, requestId, route: route.label }, "unhandled error");
      problemResponse(context, { status: 500, code: "internal", title: "Internal server error" });
    }
    const answer = c.answer as FastAnswer;
    this.count(route.label, answer.status, started);
    return answer;
  }

  /** What the app's metrics middleware and countRejectedEvents record for an answer. */
  private count(label: string, status: number, started: number) {
    const labels = { method: "POST", route: label, status: String(status) };
    this.deps.metrics.httpRequests.inc(labels);
    this.deps.metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    if (status >= 400 && status < 500) {
      this.deps.ingestMetrics.events.inc({ outcome: "rejected" });
    }
  }
}

/** The path of a Request's absolute URL when it has no query; undefined otherwise. */
function pathOfUrl(url: string): string | undefined {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0 || url.includes("?", start) || url.includes("#", start)) return undefined;
  return url.slice(start);
}

/** Puts the fast path in front of the app's fetch (web Requests: app.request, any server). */
export function installFastEventRoutes(app: IngestApp, deps: FastEventRoutesDeps): void {
  const validated: IngestApp["fetch"] = app.fetch;
  const routes = new FastEventRoutes(deps);

  const serve = async (
    request: Request,
    env: unknown,
    executionCtx: Parameters<IngestApp["fetch"]>[2],
    route: FastRoute,
    header: HeaderOf,
    started: number,
  ): Promise<Response> => {
    let text: string | undefined;
    try {
      text = await request.text();
    } catch {}
    const answer = await routes.answer(route, header, text, started);
    if (answer !== undefined) {
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    }
    // Refused: the validated route reads the same body and words the answer.
    const again = new Request(request.url, {
      method: "POST",
      headers: request.headers,
      body: text,
    });
    return validated(again, env, executionCtx);
  };

  app.fetch = (request, env, executionCtx) => {
    const route = FastEventRoutes.route(request.method, pathOfUrl(request.url));
    if (route === undefined) return validated(request, env, executionCtx);
    const started = performance.now();
    const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const header: HeaderOf | undefined =
      incoming?.rawHeaders === undefined
        ? (name) => request.headers.get(name) ?? undefined
        : incomingHeaders(incoming);
    if (header === undefined || !routes.admits(route, header)) {
      return validated(request, env, executionCtx);
    }
    return serve(request, env, executionCtx, route, header, started);
  };
}
