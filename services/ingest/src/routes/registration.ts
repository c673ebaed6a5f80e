import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID, TENANT_ID_PATTERN } from "@hookline/contracts";
import {
  describedWithScopes,
  grantOf,
  type KitEnv,
  problemResponse,
  requiredScopes,
  scopeCheck,
} from "@hookline/kit";
import type { MiddlewareHandler } from "hono";
import type { IngestApp } from "../app";
import { tenantNotFound } from "../http/problems";
import type { TenantView } from "../tenants/tenant-view";

export interface RouteRegistrationDeps {
  tenants: Pick<TenantView, "state">;
}

/** The path parameter every tenant path names its tenant with. */
const TENANT_PARAM = "{tenantId}";
const TENANTS_PATH = "/v1/tenants";

/**
 * A route declares this (true) when a token bound to a tenant may not call it at all, such as
 * creating tenants: it is for whoever runs Hookline, not for one tenant.
 */
export const UNBOUND_TOKEN_ONLY = "x-unbound-token-only";

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
 * A token bound to a tenant meets every other tenant as one that does not exist (404, as an
 * unknown tenant), so it learns nothing of them. The paths without a tenant are the default
 * tenant's. The tenants collection (/v1/tenants) has no tenant: its routes decide themselves.
 */
function boundTenantCheck(route: RouteConfig): MiddlewareHandler<KitEnv> | undefined {
  if (route.path.includes(TENANT_PARAM)) {
    return async (c, next) => {
      const bound = grantOf(c).tenantId;
      const tenantId = c.req.param("tenantId");
      if (bound !== undefined && tenantId !== bound) return tenantNotFound(c, tenantId ?? "");
      await next();
    };
  }
  if ((route as Record<string, unknown>)[UNBOUND_TOKEN_ONLY] === true) {
    return async (c, next) => {
      const bound = grantOf(c).tenantId;
      if (bound !== undefined) {
        return problemResponse(c, {
          status: 403,
          code: "tenant_bound_token",
          title: "Forbidden",
          detail: `this token acts only for the tenant ${JSON.stringify(bound)}`,
        });
      }
      await next();
    };
  }
  if (route.path === TENANTS_PATH) return undefined;
  return async (c, next) => {
    const bound = grantOf(c).tenantId;
    if (bound !== undefined && bound !== DEFAULT_TENANT_ID) {
      return tenantNotFound(c, DEFAULT_TENANT_ID);
    }
    await next();
  };
}

/**
 * Every /v1 route is registered here, so what applies to many routes is added in one place:
 * the scopes the route declares (`x-required-scopes` in its route file: 403 naming the first
 * one the token lacks), the tenant a bound token acts for, and the tenant check of tenant paths.
 * A route without declared scopes is a programming error, refused at start-up.
 */
export function registerRoutes(app: IngestApp, deps: RouteRegistrationDeps) {
  const checkTenant = tenantExists(deps.tenants);
  return <R extends RouteConfig>(route: R, handler: RouteHandler<R, KitEnv>): void => {
    const scopes = requiredScopes(route);
    if (scopes === undefined || scopes.length === 0) {
      throw new Error(`${route.method.toUpperCase()} ${route.path} declares no required scopes`);
    }
    const middleware: MiddlewareHandler<KitEnv>[] = [scopeCheck(scopes)];
    const bound = boundTenantCheck(route);
    if (bound !== undefined) middleware.push(bound);
    if (route.path.includes(TENANT_PARAM)) middleware.push(checkTenant);
    app.openapi({ ...describedWithScopes(route, scopes), middleware }, handler);
  };
}

export type RegisterRoute = ReturnType<typeof registerRoutes>;
