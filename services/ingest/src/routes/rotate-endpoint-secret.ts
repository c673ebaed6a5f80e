import { createRoute } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import type { IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import type { EndpointRegistry } from "../endpoints/registry";
import {
  endpointIdParamsSchema,
  endpointSecretSchema,
  tenantEndpointIdParamsSchema,
} from "../http/endpoint-schemas";
import {
  endpointConflict,
  endpointNotFound,
  endpointStoreUnavailable,
  problemRef,
} from "../http/problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "post" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:write", "secrets:read"] satisfies IngestScope[],
  summary: "Rotate the signing secret",
  responses: {
    200: {
      description: "The new secret",
      content: { "application/json": { schema: endpointSecretSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    503: problemRef.Unavailable,
  },
};
const description =
  "Deliveries are signed with the new secret and, for 24 hours, also with the previous one.";

export const rotateTenantEndpointSecretRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}/rotate-secret",
  description,
  request: { params: tenantEndpointIdParamsSchema },
});

export const rotateEndpointSecretRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}/rotate-secret",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { params: endpointIdParamsSchema },
});

export function registerRotateEndpointSecret(
  register: RegisterRoute,
  deps: { registry: EndpointRegistry },
) {
  const rotate = async (c: Context<KitEnv>, tenantId: string, id: string) => {
    const result = await deps.registry.rotateSecret(id, c.get("actor"), tenantId);
    switch (result.outcome) {
      case "rotated":
        return c.json({ secret: result.secret }, 200);
      case "not_found":
        return endpointNotFound(c, id);
      case "conflict":
        return endpointConflict(c);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  };
  register(rotateTenantEndpointSecretRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return rotate(c, tenantId, id);
  });
  register(rotateEndpointSecretRoute, (c) => rotate(c, DEFAULT_TENANT_ID, c.req.valid("param").id));
}
