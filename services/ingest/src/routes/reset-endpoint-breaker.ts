import { createRoute } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import type { EndpointCache, IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import { tenantEndpoint } from "../endpoints/ownership";
import { endpointIdParamsSchema, tenantEndpointIdParamsSchema } from "../http/endpoint-schemas";
import { breakerResetResultSchema } from "../http/operation-schemas";
import { endpointNotFound, problemRef } from "../http/problems";
import type { BreakerOperations } from "../operations/breakers";
import { breakersUnavailable } from "./breaker-problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "post" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:write"] satisfies IngestScope[],
  summary: "Close the endpoint's circuit breaker in every delivery instance",
  responses: {
    200: {
      description:
        "Each delivery instance found over NATS and what it did: closed the breaker (with the " +
        "state it was in), or did not answer in time (`allReset` is then false; call again).",
      content: { "application/json": { schema: breakerResetResultSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    503: problemRef.Unavailable,
  },
};
const description =
  "The next task for the endpoint goes out at once instead of waiting for the breaker's probe. " +
  "The breaker's rolling window keeps its counts: an endpoint still failing opens it again.";

export const resetTenantEndpointBreakerRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}/breaker/reset",
  description,
  request: { params: tenantEndpointIdParamsSchema },
});

export const resetEndpointBreakerRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}/breaker/reset",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { params: endpointIdParamsSchema },
});

export function registerResetEndpointBreaker(
  register: RegisterRoute,
  deps: { cache: Pick<EndpointCache, "get">; breakers: BreakerOperations },
) {
  const reset = async (c: Context<KitEnv>, tenantId: string, id: string) => {
    if (tenantEndpoint(deps.cache, tenantId, id) === undefined) return endpointNotFound(c, id);
    const result = await deps.breakers.reset(id);
    if (result.outcome !== "answered") return breakersUnavailable(c, result.outcome);
    const allReset = result.instances.every((instance) => instance.answered);
    return c.json({ endpointId: id, allReset, instances: result.instances }, 200);
  };
  register(resetTenantEndpointBreakerRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return reset(c, tenantId, id);
  });
  register(resetEndpointBreakerRoute, (c) => reset(c, DEFAULT_TENANT_ID, c.req.valid("param").id));
}
