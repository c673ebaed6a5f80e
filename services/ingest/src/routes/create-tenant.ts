import { createRoute } from "@hono/zod-openapi";
import type { IngestScope } from "@hookline/kit";
import { problemRef, tenantExists, tenantStoreUnavailable } from "../http/problems";
import { createTenantBodySchema, publicTenant, tenantSchema } from "../http/tenant-schemas";
import type { TenantRegistry } from "../tenants/registry";
import { type RegisterRoute, UNBOUND_TOKEN_ONLY } from "./registration";

export const createTenantRoute = createRoute({
  method: "post",
  path: "/v1/tenants",
  tags: ["tenants"],
  "x-required-scopes": ["tenants:admin"] satisfies IngestScope[],
  [UNBOUND_TOKEN_ONLY]: true,
  summary: "Create a tenant",
  description:
    "A tenant is one of your customers: it registers its own endpoints under " +
    "/v1/tenants/{tenantId}/endpoints, and its events (/v1/tenants/{tenantId}/events) reach " +
    "only them. The `default` tenant always exists: it is the one the paths without a tenant " +
    "act for. A token bound to a tenant may not create tenants (403 `tenant_bound_token`).",
  request: {
    body: { required: true, content: { "application/json": { schema: createTenantBodySchema } } },
  },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: tenantSchema } } },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    409: problemRef.Conflict,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerCreateTenant(
  register: RegisterRoute,
  deps: { tenantRegistry: TenantRegistry },
) {
  register(createTenantRoute, async (c) => {
    const input = c.req.valid("json");
    const result = await deps.tenantRegistry.create(input, c.get("actor"));
    switch (result.outcome) {
      case "created":
        return c.json(publicTenant(result.record), 201);
      case "exists":
        return tenantExists(c, input.id ?? "");
      case "unavailable":
        return tenantStoreUnavailable(c);
    }
  });
}
