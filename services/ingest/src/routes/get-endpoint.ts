import { createRoute } from "@hono/zod-openapi";
import type { EndpointCache } from "@hookline/kit";
import type { IngestApp } from "../app";
import { endpointIdParamsSchema, endpointSchema, publicEndpoint } from "../http/endpoint-schemas";
import { endpointNotFound, problemRef } from "../http/problems";

export const getEndpointRoute = createRoute({
  method: "get",
  path: "/v1/endpoints/{id}",
  tags: ["endpoints"],
  summary: "Get an endpoint (without its secrets)",
  request: { params: endpointIdParamsSchema },
  responses: {
    200: {
      description: "The endpoint",
      content: { "application/json": { schema: endpointSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
  },
});

export function registerGetEndpoint(app: IngestApp, deps: { cache: Pick<EndpointCache, "get"> }) {
  app.openapi(getEndpointRoute, (c) => {
    const { id } = c.req.valid("param");
    const cached = deps.cache.get(id);
    if (cached === undefined) return endpointNotFound(c, id);
    return c.json(publicEndpoint(cached.record), 200);
  });
}
