import { createRoute } from "@hono/zod-openapi";
import type { IngestScope } from "@hookline/kit";
import { tenantParamsSchema } from "../http/endpoint-schemas";
import {
  defaultTenantUndeletable,
  problemRef,
  tenantConflict,
  tenantNotFound,
  tenantStoreUnavailable,
} from "../http/problems";
import { deletedTenantSchema } from "../http/tenant-schemas";
import type { TenantRegistry } from "../tenants/registry";
import type { RegisterRoute } from "./registration";

export const deleteTenantRoute = createRoute({
  method: "delete",
  path: "/v1/tenants/{tenantId}",
  tags: ["tenants"],
  "x-required-scopes": ["tenants:admin"] satisfies IngestScope[],
  summary: "Delete a tenant and every endpoint of it",
  description:
    "First marks the tenant `deleting` (from then on it takes no new endpoints, events or " +
    "changes: 409), then deletes each of its endpoints, then the tenant. Tasks still queued for " +
    "its endpoints are dead-lettered as `endpoint_deleted`: never delivered, never lost. If it " +
    "fails part way (503, 409), the tenant stays `deleting` and calling DELETE again finishes " +
    "it. The `default` tenant cannot be deleted (409).",
  request: { params: tenantParamsSchema },
  responses: {
    200: {
      description: "Deleted",
      content: { "application/json": { schema: deletedTenantSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    503: problemRef.Unavailable,
  },
});

export function registerDeleteTenant(
  register: RegisterRoute,
  deps: { tenantRegistry: TenantRegistry },
) {
  register(deleteTenantRoute, async (c) => {
    const { tenantId } = c.req.valid("param");
    const result = await deps.tenantRegistry.remove(tenantId, c.get("actor"));
    switch (result.outcome) {
      case "deleted":
        return c.json({ id: tenantId, endpointsDeleted: result.endpointsDeleted }, 200);
      case "default_tenant":
        return defaultTenantUndeletable(c);
      case "not_found":
        return tenantNotFound(c, tenantId);
      case "conflict":
        return tenantConflict(c);
      case "unavailable":
        return tenantStoreUnavailable(c);
    }
  });
}
