import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import {
  describedWithScopes,
  grantOf,
  type KitEnv,
  problemResponse,
  requiredScopes,
  scopeCheck,
} from "@hookline/kit";
import type { Context, MiddlewareHandler } from "hono";
import type { Kysely } from "kysely";
import type { DlqApp } from "../app";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import { letterNotFound, serviceUnavailable } from "../http/problems";
import type { LetterFilter } from "../letters/filter";
import { isDeadLetterId } from "../letters/letter-id";

export interface RouteRegistrationDeps {
  db: Kysely<Database>;
}

/** The path parameter of the routes about one letter. */
const LETTER_PARAM = "{id}";

/** As ingest answers a tenant a bound token may not see: as if it did not exist. */
function tenantNotFound(c: Context, tenantId: string) {
  return problemResponse(c, {
    status: 404,
    code: "tenant_not_found",
    title: "Tenant not found",
    detail: `no tenant with id ${JSON.stringify(tenantId.slice(0, 100))}`,
  });
}

/**
 * A token bound to a tenant meets another tenant's letter as a missing one (404), whatever the
 * route does with it. One indexed read by primary key, only for bound tokens.
 */
function letterOfBoundTenant(db: Kysely<Database>): MiddlewareHandler<KitEnv> {
  return async (c, next) => {
    const bound = grantOf(c).tenantId;
    const id = c.req.param("id");
    if (bound !== undefined && id !== undefined && isDeadLetterId(id)) {
      const row = await unlessDatabaseDown(() =>
        db.selectFrom("dead_letters").select("tenant_id").where("id", "=", id).executeTakeFirst(),
      );
      if (row !== undefined && "outcome" in row) return serviceUnavailable(c, row.dependency);
      if (row !== undefined && row.tenant_id !== bound) return letterNotFound(c, id);
    }
    await next();
  };
}

/**
 * The tenants a request names: `?tenantId=` (any method: a POST about one event names it there
 * too) and, on other methods than GET, the JSON body's `filter.tenantId`.
 */
async function namedTenants(c: Context): Promise<unknown[]> {
  const named: unknown[] = [c.req.query("tenantId")];
  if (c.req.method === "GET") return named;
  // Read once here; the route's validation reads the same cached body (and words any error).
  const body: unknown = await c.req.json().catch(() => undefined);
  const filter = (body as { filter?: unknown } | undefined)?.filter;
  named.push((filter as { tenantId?: unknown } | undefined)?.tenantId);
  return named;
}

/**
 * A filter naming another tenant than the token's is a 404 as an unknown tenant: the token
 * learns nothing of other tenants, not even whether they have letters.
 */
function filterOfBoundTenant(): MiddlewareHandler<KitEnv> {
  return async (c, next) => {
    const bound = grantOf(c).tenantId;
    if (bound !== undefined) {
      for (const named of await namedTenants(c)) {
        if (typeof named === "string" && named !== bound) return tenantNotFound(c, named);
      }
    }
    await next();
  };
}

/** The filter a route applies: a bound token's tenant always, whatever else it selects. */
export function tenantScopedFilter(c: Context, filter: LetterFilter): LetterFilter {
  const bound = grantOf(c).tenantId;
  return bound === undefined ? filter : { ...filter, tenantId: bound };
}

/**
 * Every /v1 route is registered here: the scopes it declares (`x-required-scopes` in its route
 * file: 403 naming the first one the token lacks, before validation), and what a token bound to
 * a tenant may see: the letter of a route about one letter, or the tenant a filter names. A
 * route without declared scopes is a programming error, refused at start-up.
 */
export function registerRoutes(app: DlqApp, deps: RouteRegistrationDeps) {
  const checkLetter = letterOfBoundTenant(deps.db);
  const checkFilter = filterOfBoundTenant();
  return <R extends RouteConfig>(route: R, handler: RouteHandler<R, KitEnv>): void => {
    const scopes = requiredScopes(route);
    if (scopes === undefined || scopes.length === 0) {
      throw new Error(`${route.method.toUpperCase()} ${route.path} declares no required scopes`);
    }
    const middleware: MiddlewareHandler<KitEnv>[] = [scopeCheck(scopes)];
    middleware.push(route.path.includes(LETTER_PARAM) ? checkLetter : checkFilter);
    app.openapi({ ...describedWithScopes(route, scopes), middleware }, handler);
  };
}

export type RegisterRoute = ReturnType<typeof registerRoutes>;
