import { createRoute } from "@hono/zod-openapi";
import type { EndpointCache } from "@hookline/kit";
import type { IngestApp } from "../app";
import { endpointIdParamsSchema, endpointSecretSchema } from "../http/endpoint-schemas";
import { endpointNotFound, problemRef } from "../http/problems";

export const getEndpointSecretRoute = createRoute({
  method: "get",
  path: "/v1/endpoints/{id}/secret",
  tags: ["endpoints"],
  summary: "Get the endpoint's current signing secret",
  request: { params: endpointIdParamsSchema },
  responses: {
    200: {
      description: "The newest secret",
      content: { "application/json": { schema: endpointSecretSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
  },
});

export function registerGetEndpointSecret(
  app: IngestApp,
  deps: { cache: Pick<EndpointCache, "get"> },
) {
  app.openapi(getEndpointSecretRoute, (c) => {
    const { id } = c.req.valid("param");
    const newest = deps.cache.get(id)?.record.secrets[0];
    if (newest === undefined) return endpointNotFound(c, id);
    return c.json({ secret: newest.value }, 200);
  });
}
