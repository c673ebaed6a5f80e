import { createRoute, z } from "@hono/zod-openapi";
import { DEFAULT_TENANT_ID } from "@hookline/contracts";
import {
  type EndpointCache,
  type IngestScope,
  invalidCursorProblem,
  type KitEnv,
} from "@hookline/kit";
import type { Context } from "hono";
import { DEFAULT_PAGE_SIZE, listEndpoints, MAX_PAGE_SIZE } from "../endpoints/listing";
import { endpointSchema, publicEndpoint, tenantParamsSchema } from "../http/endpoint-schemas";
import { problemRef } from "../http/problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

export const pageQuerySchema = z.object({
  cursor: z.string().optional().openapi({ description: "Opaque; from a previous page" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .openapi({ example: DEFAULT_PAGE_SIZE }),
});

const common = {
  method: "get" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:read"] satisfies IngestScope[],
  summary: "List endpoints",
  responses: {
    200: {
      description: "A page of endpoints",
      content: {
        "application/json": {
          schema: z
            .object({ data: z.array(endpointSchema), nextCursor: z.string().nullable() })
            .openapi("EndpointPage"),
        },
      },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
  },
};
const description =
  "The tenant's endpoints in id (creation) order. Pass `nextCursor` back as `cursor` for the " +
  "next page.";

export const listTenantEndpointsRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints",
  description,
  request: { params: tenantParamsSchema, query: pageQuerySchema },
  responses: { ...common.responses, 404: problemRef.NotFound },
});

export const listEndpointsRoute = createRoute({
  ...common,
  path: "/v1/endpoints",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { query: pageQuerySchema },
});

export function registerListEndpoints(
  register: RegisterRoute,
  deps: { cache: Pick<EndpointCache, "all"> },
) {
  const list = (c: Context<KitEnv>, tenantId: string, query: z.infer<typeof pageQuerySchema>) => {
    const page = listEndpoints(deps.cache, tenantId, query);
    switch (page.outcome) {
      case "page":
        return c.json(
          { data: page.endpoints.map(publicEndpoint), nextCursor: page.nextCursor },
          200,
        );
      case "invalid_cursor":
        return invalidCursorProblem(c);
    }
  };
  register(listTenantEndpointsRoute, (c) =>
    list(c, c.req.valid("param").tenantId, c.req.valid("query")),
  );
  register(listEndpointsRoute, (c) => list(c, DEFAULT_TENANT_ID, c.req.valid("query")));
}
