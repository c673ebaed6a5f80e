import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { type BodyLimitRule, bodyLimitMiddleware, DEFAULT_MAX_BODY_BYTES } from "./body-limit";
import { httpMetricsMiddleware, type ServiceMetrics } from "./metrics";
import { problemResponse, validationProblem } from "./problem";

export interface KitVariables {
  requestId: string;
  /** The name of the token holder, set by bearerAuth. */
  actor: string;
}
export interface KitEnv {
  Variables: KitVariables;
}

/** Named readiness checks; /readyz is 200 only when every one passes. */
export type ReadinessChecks = Record<string, () => boolean | Promise<boolean>>;

export interface ServiceAppOptions {
  logger: Logger;
  metrics: ServiceMetrics;
  readiness: ReadinessChecks;
  /** The request body limit of every route; DEFAULT_MAX_BODY_BYTES when absent. */
  bodyLimit?: BodyLimitRule;
  /** Middleware that must see every answer, the body limit's 413s included (counters). */
  outerMiddleware?: readonly MiddlewareHandler[];
}

export async function readinessReport(checks: ReadinessChecks) {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        return [name, await check()] as const;
      } catch {
        return [name, false] as const;
      }
    }),
  );
  return { ready: entries.every(([, ok]) => ok), checks: Object.fromEntries(entries) };
}

/**
 * The HTTP app every service starts from: request ids, metrics, a body limit on every route,
 * problem+json for every error, and /healthz, /readyz and /metrics. Services add their own
 * routes to it.
 */
export function createServiceApp<E extends KitEnv = KitEnv>(options: ServiceAppOptions) {
  const { logger, metrics } = options;
  const app = new OpenAPIHono<E>({
    defaultHook: (result, c) => {
      if (!result.success) return validationProblem(c, result.target, result.error.issues);
    },
  });
  app.use(requestId());
  app.use(httpMetricsMiddleware(metrics));
  for (const middleware of options.outerMiddleware ?? []) app.use(middleware);
  app.use(bodyLimitMiddleware(options.bodyLimit ?? { maxBytes: DEFAULT_MAX_BODY_BYTES }));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const report = await readinessReport(options.readiness);
    return c.json(
      { status: report.ready ? "ready" : "not_ready", checks: report.checks },
      report.ready ? 200 : 503,
    );
  });
  app.get("/metrics", async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  app.notFound((c) =>
    problemResponse(c, {
      status: 404,
      code: "not_found",
      title: "Not found",
      detail: `no route for ${c.req.method} ${c.req.path}`,
    }),
  );
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const status = error.status;
      if (status === 413) {
        return problemResponse(c, {
          status,
          code: "payload_too_large",
          title: "Payload too large",
          detail: error.message,
        });
      }
      return problemResponse(c, {
        status: status as 400,
        code: "http_error",
        title: error.message || "Request failed",
      });
    }
    logger.error(
      { err: error, requestId: c.get("requestId"), route: c.req.routePath },
      "unhandled error",
    );
    return problemResponse(c, { status: 500, code: "internal", title: "Internal server error" });
  });
  return app;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** Serves an app on a port (0 picks a free one) and resolves once listening. */
export function serveHttp(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  port: number,
  hostname = "0.0.0.0",
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive sockets would otherwise hold close() open until they time out.
            if ("closeIdleConnections" in server) server.closeIdleConnections();
          }),
      });
    });
    server.once("error", reject);
  });
}
