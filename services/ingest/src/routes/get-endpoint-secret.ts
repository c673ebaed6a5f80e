import { createRoute } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import type { EndpointCache, IngestScope, KitEnv, SecretBox } from "@hookline/kit";
import type { Context } from "hono";
import { tenantEndpoint } from "../endpoints/ownership";
import { newestSecret } from "../endpoints/secrets";
import {
  endpointIdParamsSchema,
  endpointSecretSchema,
  tenantEndpointIdParamsSchema,
} from "../http/endpoint-schemas";
import { endpointNotFound, problemRef } from "../http/problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "get" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["secrets:read"] satisfies IngestScope[],
  summary: "Get the endpoint's current signing secret",
  responses: {
    200: {
      description: "The newest secret",
      content: { "application/json": { schema: endpointSecretSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
  },
};

export const getTenantEndpointSecretRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}/secret",
  request: { params: tenantEndpointIdParamsSchema },
});

export const getEndpointSecretRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}/secret",
  description: LEGACY_PATH_NOTE,
  request: { params: endpointIdParamsSchema },
});

export function registerGetEndpointSecret(
  register: RegisterRoute,
  deps: { cache: Pick<EndpointCache, "get">; secretBox?: SecretBox | undefined },
) {
  const get = (c: Context<KitEnv>, tenantId: string, id: string) => {
    const record = tenantEndpoint(deps.cache, tenantId, id)?.record;
    if (record === undefined) return endpointNotFound(c, id);
    // Stored sealed: opened here, only for this answer.
    const newest = newestSecret(deps.secretBox, record);
    // A key missing from HOOKLINE_ENCRYPTION_KEYS: a 500 whose log names the kid, not a value.
    if (newest.outcome === "unopenable") throw newest.error;
    return c.json({ secret: newest.plaintext }, 200);
  };
  register(getTenantEndpointSecretRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return get(c, tenantId, id);
  });
  register(getEndpointSecretRoute, (c) => get(c, DEFAULT_TENANT_ID, c.req.valid("param").id));
}
