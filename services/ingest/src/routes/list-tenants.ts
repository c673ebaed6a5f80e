import { createRoute, z } from "@hono/zod-openapi";
import { grantOf, type IngestScope, invalidCursorProblem } from "@hookline/kit";
import { problemRef } from "../http/problems";
import { publicTenant, tenantSchema } from "../http/tenant-schemas";
import { listTenants } from "../tenants/listing";
import type { TenantView } from "../tenants/tenant-view";
import { pageQuerySchema } from "./list-endpoints";
import type { RegisterRoute } from "./registration";

export const listTenantsRoute = createRoute({
  method: "get",
  path: "/v1/tenants",
  tags: ["tenants"],
  "x-required-scopes": ["tenants:admin"] satisfies IngestScope[],
  summary: "List tenants",
  description:
    "In id order, the `default` tenant included. Pass `nextCursor` back as `cursor` for the " +
    "next page. A token bound to a tenant sees only its own.",
  request: { query: pageQuerySchema },
  responses: {
    200: {
      description: "A page of tenants",
      content: {
        "application/json": {
          schema: z
            .object({ data: z.array(tenantSchema), nextCursor: z.string().nullable() })
            .openapi("TenantPage"),
        },
      },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
  },
});

export function registerListTenants(
  register: RegisterRoute,
  deps: { tenants: Pick<TenantView, "all" | "get"> },
) {
  register(listTenantsRoute, (c) => {
    const query = c.req.valid("query");
    const bound = grantOf(c).tenantId;
    // A token bound to a tenant sees only that one: every tenant after the cursor, then its own.
    const page = listTenants(
      deps.tenants,
      bound === undefined ? query : { ...query, limit: Number.MAX_SAFE_INTEGER },
    );
    switch (page.outcome) {
      case "page": {
        if (bound === undefined) {
          return c.json({ data: page.tenants.map(publicTenant), nextCursor: page.nextCursor }, 200);
        }
        const own = page.tenants.filter((tenant) => tenant.id === bound);
        return c.json({ data: own.map(publicTenant), nextCursor: null }, 200);
      }
      case "invalid_cursor":
        return invalidCursorProblem(c);
    }
  });
}
