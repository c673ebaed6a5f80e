import { createRoute } from "@hono/zod-openapi";
import {
  checkEndpointUrl,
  DEFAULT_ENDPOINT_PORT_POLICY,
  type EndpointPortPolicy,
} from "@hookline/contracts";
import type { IngestApp } from "../app";
import type { EndpointRegistry } from "../endpoints/registry";
import {
  createdEndpointSchema,
  createEndpointBodySchema,
  publicEndpoint,
} from "../http/endpoint-schemas";
import { endpointStoreUnavailable, invalidField, problemRef } from "../http/problems";

export const createEndpointRoute = createRoute({
  method: "post",
  path: "/v1/endpoints",
  tags: ["endpoints"],
  summary: "Register an endpoint",
  description:
    "Answers with the endpoint and its signing secret, which is shown again only by GET …/secret.",
  request: {
    body: { required: true, content: { "application/json": { schema: createEndpointBodySchema } } },
  },
  responses: {
    201: {
      description: "Created",
      content: { "application/json": { schema: createdEndpointSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    413: problemRef.PayloadTooLarge,
    503: problemRef.Unavailable,
  },
});

export function registerCreateEndpoint(
  app: IngestApp,
  deps: { registry: EndpointRegistry; endpointPorts?: EndpointPortPolicy | undefined },
) {
  const ports = deps.endpointPorts ?? DEFAULT_ENDPOINT_PORT_POLICY;
  app.openapi(createEndpointRoute, async (c) => {
    const input = c.req.valid("json");
    const verdict = checkEndpointUrl(input.url, ports);
    if (verdict.outcome === "refused") return invalidField(c, "url", verdict.message);
    const result = await deps.registry.create(input, c.get("actor"));
    switch (result.outcome) {
      case "created": {
        const [newest] = result.record.secrets;
        return c.json({ ...publicEndpoint(result.record), secret: newest?.value ?? "" }, 201);
      }
      case "invalid":
        return invalidField(c, result.path, result.message);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  });
}
