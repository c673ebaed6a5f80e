import { createRoute } from "@hono/zod-openapi";
import type { IngestScope } from "@hookline/kit";
import { tenantParamsSchema } from "../http/endpoint-schemas";
import {
  problemRef,
  tenantConflict,
  tenantDeleting,
  tenantNotFound,
  tenantStoreUnavailable,
} from "../http/problems";
import { publicTenant, tenantSchema, updateTenantBodySchema } from "../http/tenant-schemas";
import type { TenantRegistry } from "../tenants/registry";
import type { RegisterRoute } from "./registration";

export const updateTenantRoute = createRoute({
  method: "patch",
  path: "/v1/tenants/{tenantId}",
  tags: ["tenants"],
  "x-required-scopes": ["tenants:admin"] satisfies IngestScope[],
  summary: "Change a tenant's name or metadata",
  description:
    "Fields left out stay as they are; `metadata: null` clears it. A tenant being deleted " +
    "takes no changes (409).",
  request: {
    params: tenantParamsSchema,
    body: { required: true, content: { "application/json": { schema: updateTenantBodySchema } } },
  },
  responses: {
    200: { description: "The tenant", content: { "application/json": { schema: tenantSchema } } },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerUpdateTenant(
  register: RegisterRoute,
  deps: { tenantRegistry: TenantRegistry },
) {
  register(updateTenantRoute, async (c) => {
    const { tenantId } = c.req.valid("param");
    const result = await deps.tenantRegistry.update(tenantId, c.req.valid("json"), c.get("actor"));
    switch (result.outcome) {
      case "updated":
        return c.json(publicTenant(result.record), 200);
      case "not_found":
        return tenantNotFound(c, tenantId);
      case "deleting":
        return tenantDeleting(c, tenantId);
      case "conflict":
        return tenantConflict(c);
      case "unavailable":
        return tenantStoreUnavailable(c);
    }
  });
}
