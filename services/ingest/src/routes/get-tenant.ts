import { createRoute } from "@hono/zod-openapi";
import type { IngestScope } from "@hookline/kit";
import { tenantParamsSchema } from "../http/endpoint-schemas";
import { problemRef, tenantNotFound } from "../http/problems";
import { publicTenant, tenantSchema } from "../http/tenant-schemas";
import { tenantRecord } from "../tenants/listing";
import type { TenantView } from "../tenants/tenant-view";
import type { RegisterRoute } from "./registration";

export const getTenantRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}",
  tags: ["tenants"],
  "x-required-scopes": ["tenants:admin"] satisfies IngestScope[],
  summary: "Get a tenant",
  request: { params: tenantParamsSchema },
  responses: {
    200: { description: "The tenant", content: { "application/json": { schema: tenantSchema } } },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
  },
});

export function registerGetTenant(
  register: RegisterRoute,
  deps: { tenants: Pick<TenantView, "get"> },
) {
  register(getTenantRoute, (c) => {
    const { tenantId } = c.req.valid("param");
    const record = tenantRecord(deps.tenants, tenantId);
    if (record === undefined) return tenantNotFound(c, tenantId);
    return c.json(publicTenant(record), 200);
  });
}
