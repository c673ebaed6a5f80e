import { createRoute } from "@hono/zod-openapi";
import type { IngestApp } from "../app";
import type { EndpointRegistry } from "../endpoints/registry";
import { endpointIdParamsSchema, endpointSecretSchema } from "../http/endpoint-schemas";
import {
  endpointConflict,
  endpointNotFound,
  endpointStoreUnavailable,
  problemRef,
} from "../http/problems";

export const rotateEndpointSecretRoute = createRoute({
  method: "post",
  path: "/v1/endpoints/{id}/rotate-secret",
  tags: ["endpoints"],
  summary: "Rotate the signing secret",
  description:
    "Deliveries are signed with the new secret and, for 24 hours, also with the previous one.",
  request: { params: endpointIdParamsSchema },
  responses: {
    200: {
      description: "The new secret",
      content: { "application/json": { schema: endpointSecretSchema } },
    },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    503: problemRef.Unavailable,
  },
});

export function registerRotateEndpointSecret(app: IngestApp, deps: { registry: EndpointRegistry }) {
  app.openapi(rotateEndpointSecretRoute, async (c) => {
    const { id } = c.req.valid("param");
    const result = await deps.registry.rotateSecret(id, c.get("actor"));
    switch (result.outcome) {
      case "rotated":
        return c.json({ secret: result.secret }, 200);
      case "not_found":
        return endpointNotFound(c, id);
      case "conflict":
        return endpointConflict(c);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  });
}
