import { createRoute } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import type { EndpointCache, IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import { tenantEndpoint } from "../endpoints/ownership";
import {
  endpointIdParamsSchema,
  endpointSchema,
  publicEndpoint,
  tenantEndpointIdParamsSchema,
} from "../http/endpoint-schemas";
import { endpointNotFound, problemRef } from "../http/problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "get" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:read"] satisfies IngestScope[],
  summary: "Get an endpoint (without its secrets or header values)",
  responses: {
    200: {
      description: "The endpoint",
      content: { "application/json": { schema: endpointSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
  },
};

export const getTenantEndpointRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}",
  request: { params: tenantEndpointIdParamsSchema },
});

export const getEndpointRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}",
  description: LEGACY_PATH_NOTE,
  request: { params: endpointIdParamsSchema },
});

export function registerGetEndpoint(
  register: RegisterRoute,
  deps: { cache: Pick<EndpointCache, "get"> },
) {
  const get = (c: Context<KitEnv>, tenantId: string, id: string) => {
    const cached = tenantEndpoint(deps.cache, tenantId, id);
    if (cached === undefined) return endpointNotFound(c, id);
    return c.json(publicEndpoint(cached.record), 200);
  };
  register(getTenantEndpointRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return get(c, tenantId, id);
  });
  register(getEndpointRoute, (c) => get(c, DEFAULT_TENANT_ID, c.req.valid("param").id));
}
