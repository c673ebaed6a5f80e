import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import { TENANT_ID_PATTERN } from "@hookline/contracts";
import type { KitEnv } from "@hookline/kit";
import type { MiddlewareHandler } from "hono";
import type { IngestApp } from "../app";
import { tenantNotFound } from "../http/problems";
import type { TenantView } from "../tenants/tenant-view";

export interface RouteRegistrationDeps {
  tenants: Pick<TenantView, "state">;
}

/** The path parameter every tenant path names its tenant with. */
const TENANT_PARAM = "{tenantId}";

/**
 * 404 for a tenant that does not exist, before the body is read or validated: the same answer
 * on every route under /v1/tenants/{tenantId}. An id that is not a tenant id goes on to the
 * route's validation, whose 400 names the field. A tenant being deleted passes: reading it and
 * its endpoints stays possible, and the routes that take something new refuse it themselves.
 */
function tenantExists(tenants: Pick<TenantView, "state">): MiddlewareHandler<KitEnv> {
  return async (c, next) => {
    const tenantId = c.req.param("tenantId");
    if (
      tenantId !== undefined &&
      TENANT_ID_PATTERN.test(tenantId) &&
      tenantId !== "." &&
      tenantId !== ".." &&
      tenants.state(tenantId) === "unknown"
    ) {
      return tenantNotFound(c, tenantId);
    }
    await next();
  };
}

/**
 * Every /v1 route is registered here, so what applies to many routes is added in one place: the
 * tenant check of tenant paths now, and later per-route checks such as a token's scopes.
 */
export function registerRoutes(app: IngestApp, deps: RouteRegistrationDeps) {
  const checkTenant = tenantExists(deps.tenants);
  return <R extends RouteConfig>(route: R, handler: RouteHandler<R, KitEnv>): void => {
    const middleware = route.path.includes(TENANT_PARAM) ? [checkTenant] : [];
    app.openapi({ ...route, middleware }, handler);
  };
}

export type RegisterRoute = ReturnType<typeof registerRoutes>;
