import { createRoute } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import type { EndpointCache, IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import { tenantEndpoint } from "../endpoints/ownership";
import { endpointIdParamsSchema, tenantEndpointIdParamsSchema } from "../http/endpoint-schemas";
import { endpointHealthSchema } from "../http/operation-schemas";
import { endpointNotFound, problemRef } from "../http/problems";
import type { BreakerOperations } from "../operations/breakers";
import { breakersUnavailable } from "./breaker-problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "get" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:read"] satisfies IngestScope[],
  summary: "The endpoint's breaker, rate limiter and last attempts in every delivery instance",
  responses: {
    200: {
      description:
        "One entry per delivery instance found over NATS: its breaker (state, requests and " +
        "failures in the rolling window, when an open breaker probes), rate limiter and last " +
        "attempts; or, for an instance that did not answer in time, why not. An instance that " +
        "never saw the endpoint reads closed, with no attempts (`known: false`).",
      content: { "application/json": { schema: endpointHealthSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    503: problemRef.Unavailable,
  },
};

export const getTenantEndpointHealthRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}/health",
  request: { params: tenantEndpointIdParamsSchema },
});

export const getEndpointHealthRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}/health",
  description: LEGACY_PATH_NOTE,
  request: { params: endpointIdParamsSchema },
});

export function registerGetEndpointHealth(
  register: RegisterRoute,
  deps: { cache: Pick<EndpointCache, "get">; breakers: BreakerOperations },
) {
  const get = async (c: Context<KitEnv>, tenantId: string, id: string) => {
    if (tenantEndpoint(deps.cache, tenantId, id) === undefined) return endpointNotFound(c, id);
    const result = await deps.breakers.health(id);
    if (result.outcome !== "answered") return breakersUnavailable(c, result.outcome);
    const checkedAt = new Date().toISOString();
    return c.json({ endpointId: id, checkedAt, instances: result.instances }, 200);
  };
  register(getTenantEndpointHealthRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return get(c, tenantId, id);
  });
  register(getEndpointHealthRoute, (c) => get(c, DEFAULT_TENANT_ID, c.req.valid("param").id));
}
