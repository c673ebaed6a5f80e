import { createRoute } from "@hono/zod-openapi";
import type { EndpointCache, SecretBox } from "@hookline/kit";
import type { IngestApp } from "../app";
import { newestSecret } from "../endpoints/secrets";
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
  deps: { cache: Pick<EndpointCache, "get">; secretBox?: SecretBox | undefined },
) {
  app.openapi(getEndpointSecretRoute, (c) => {
    const { id } = c.req.valid("param");
    const record = deps.cache.get(id)?.record;
    if (record === undefined) return endpointNotFound(c, id);
    // Stored sealed: opened here, only for this answer.
    const newest = newestSecret(deps.secretBox, record);
    // A key missing from HOOKLINE_ENCRYPTION_KEYS: a 500 whose log names the kid, not a value.
    if (newest.outcome === "unopenable") throw newest.error;
    return c.json({ secret: newest.plaintext }, 200);
  });
}
