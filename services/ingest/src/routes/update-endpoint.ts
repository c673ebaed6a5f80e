import { createRoute } from "@hono/zod-openapi";
import {
  checkEndpointUrl,
  DEFAULT_ENDPOINT_PORT_POLICY,
  type EndpointPortPolicy,
} from "@hookline/contracts";
import type { IngestApp } from "../app";
import type { EndpointRegistry } from "../endpoints/registry";
import {
  endpointIdParamsSchema,
  endpointSchema,
  publicEndpoint,
  updateEndpointBodySchema,
} from "../http/endpoint-schemas";
import {
  endpointConflict,
  endpointNotFound,
  endpointStoreUnavailable,
  invalidField,
  problemRef,
} from "../http/problems";

export const updateEndpointRoute = createRoute({
  method: "patch",
  path: "/v1/endpoints/{id}",
  tags: ["endpoints"],
  summary: "Change an endpoint",
  description:
    "Fields left out stay as they are; null clears an optional one. `disabled: false` re-enables " +
    "the endpoint and clears `disabledReason`.",
  request: {
    params: endpointIdParamsSchema,
    body: { required: true, content: { "application/json": { schema: updateEndpointBodySchema } } },
  },
  responses: {
    200: {
      description: "The endpoint",
      content: { "application/json": { schema: endpointSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.NotFound,
    409: problemRef.Conflict,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerUpdateEndpoint(
  app: IngestApp,
  deps: { registry: EndpointRegistry; endpointPorts?: EndpointPortPolicy | undefined },
) {
  const ports = deps.endpointPorts ?? DEFAULT_ENDPOINT_PORT_POLICY;
  app.openapi(updateEndpointRoute, async (c) => {
    const { id } = c.req.valid("param");
    const changes = c.req.valid("json");
    // A stored URL that is left alone keeps working here; delivery judges it at send time.
    if (changes.url !== undefined) {
      const verdict = checkEndpointUrl(changes.url, ports);
      if (verdict.outcome === "refused") return invalidField(c, "url", verdict.message);
    }
    const result = await deps.registry.update(id, changes, c.get("actor"));
    switch (result.outcome) {
      case "updated":
        return c.json(publicEndpoint(result.record), 200);
      case "not_found":
        return endpointNotFound(c, id);
      case "conflict":
        return endpointConflict(c);
      case "invalid":
        return invalidField(c, result.path, result.message);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  });
}
