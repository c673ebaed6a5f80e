import { createRoute } from "@hono/zod-openapi";
import type { IngestApp } from "../app";
import type { EndpointRegistry } from "../endpoints/registry";
import { endpointIdParamsSchema } from "../http/endpoint-schemas";
import {
  endpointConflict,
  endpointNotFound,
  endpointStoreUnavailable,
  problemRef,
} from "../http/problems";

export const deleteEndpointRoute = createRoute({
  method: "delete",
  path: "/v1/endpoints/{id}",
  tags: ["endpoints"],
  summary: "Delete an endpoint",
  description: "Tasks still queued for it are dead-lettered as `endpoint_deleted`, not dropped.",
  request: { params: endpointIdParamsSchema },
  responses: {
    204: { description: "Deleted" },
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    503: problemRef.Unavailable,
  },
});

export function registerDeleteEndpoint(app: IngestApp, deps: { registry: EndpointRegistry }) {
  app.openapi(deleteEndpointRoute, async (c) => {
    const { id } = c.req.valid("param");
    const result = await deps.registry.remove(id, c.get("actor"));
    switch (result.outcome) {
      case "deleted":
        return c.body(null, 204);
      case "not_found":
        return endpointNotFound(c, id);
      case "conflict":
        return endpointConflict(c);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  });
}
