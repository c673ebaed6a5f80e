import { createRoute, z } from "@hono/zod-openapi";
import { type EndpointCache, invalidCursorProblem } from "@hookline/kit";
import type { IngestApp } from "../app";
import { DEFAULT_PAGE_SIZE, listEndpoints, MAX_PAGE_SIZE } from "../endpoints/listing";
import { endpointSchema, publicEndpoint } from "../http/endpoint-schemas";
import { problemRef } from "../http/problems";

export const listEndpointsRoute = createRoute({
  method: "get",
  path: "/v1/endpoints",
  tags: ["endpoints"],
  summary: "List endpoints",
  description: "In id (creation) order. Pass `nextCursor` back as `cursor` for the next page.",
  request: {
    query: z.object({
      cursor: z.string().optional().openapi({ description: "Opaque; from a previous page" }),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(MAX_PAGE_SIZE)
        .default(DEFAULT_PAGE_SIZE)
        .openapi({ example: DEFAULT_PAGE_SIZE }),
    }),
  },
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
});

export function registerListEndpoints(app: IngestApp, deps: { cache: Pick<EndpointCache, "all"> }) {
  app.openapi(listEndpointsRoute, (c) => {
    const page = listEndpoints(deps.cache, c.req.valid("query"));
    switch (page.outcome) {
      case "page":
        return c.json(
          { data: page.endpoints.map(publicEndpoint), nextCursor: page.nextCursor },
          200,
        );
      case "invalid_cursor":
        return invalidCursorProblem(c);
    }
  });
}
