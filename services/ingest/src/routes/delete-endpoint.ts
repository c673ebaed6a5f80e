import { createRoute } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import type { IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import type { EndpointRegistry } from "../endpoints/registry";
import { endpointIdParamsSchema, tenantEndpointIdParamsSchema } from "../http/endpoint-schemas";
import {
  endpointConflict,
  endpointNotFound,
  endpointStoreUnavailable,
  problemRef,
} from "../http/problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "delete" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:write"] satisfies IngestScope[],
  summary: "Delete an endpoint",
  responses: {
    204: { description: "Deleted" },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    503: problemRef.Unavailable,
  },
};
const description =
  "Tasks still queued for it are dead-lettered as `endpoint_deleted`, not dropped. The key is " +
  "purged, so no earlier revision of the record (secrets, header values) stays in the bucket.";

export const deleteTenantEndpointRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}",
  description,
  request: { params: tenantEndpointIdParamsSchema },
});

export const deleteEndpointRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { params: endpointIdParamsSchema },
});

export function registerDeleteEndpoint(
  register: RegisterRoute,
  deps: { registry: EndpointRegistry },
) {
  const remove = async (c: Context<KitEnv>, tenantId: string, id: string) => {
    const result = await deps.registry.remove(id, c.get("actor"), tenantId);
    switch (result.outcome) {
      case "deleted":
        return c.body(null, 204);
      case "not_found":
        return endpointNotFound(c, id);
      case "conflict":
        return endpointConflict(c);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  };
  register(deleteTenantEndpointRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return remove(c, tenantId, id);
  });
  register(deleteEndpointRoute, (c) => remove(c, DEFAULT_TENANT_ID, c.req.valid("param").id));
}
