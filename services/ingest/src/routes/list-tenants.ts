import { createRoute, z } from "@hono/zod-openapi";
import { invalidCursorProblem } from "@hookline/kit";
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
  summary: "List tenants",
  description:
    "In id order, the `default` tenant included. Pass `nextCursor` back as `cursor` for the " +
    "next page.",
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
    const page = listTenants(deps.tenants, c.req.valid("query"));
    switch (page.outcome) {
      case "page":
        return c.json({ data: page.tenants.map(publicTenant), nextCursor: page.nextCursor }, 200);
      case "invalid_cursor":
        return invalidCursorProblem(c);
    }
  });
}
