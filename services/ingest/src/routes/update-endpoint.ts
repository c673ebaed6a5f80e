import { createRoute } from "@hono/zod-openapi";
import {
  checkEndpointUrl,
  DEFAULT_ENDPOINT_PORT_POLICY,
  DEFAULT_TENANT_ID,
  type EndpointPortPolicy,
} from "@hookline/contracts";
import type { IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import type { EndpointChanges, EndpointRegistry } from "../endpoints/registry";
import {
  endpointIdParamsSchema,
  endpointSchema,
  publicEndpoint,
  tenantEndpointIdParamsSchema,
  updateEndpointBodySchema,
} from "../http/endpoint-schemas";
import {
  endpointConflict,
  endpointNotFound,
  endpointStoreUnavailable,
  invalidField,
  problemRef,
} from "../http/problems";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "patch" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:write"] satisfies IngestScope[],
  summary: "Change an endpoint",
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
};
const description =
  "Fields left out stay as they are; null clears an optional one. `disabled: false` re-enables " +
  "the endpoint and clears `disabledReason`. `headers` replaces the whole map.";
const body = {
  required: true,
  content: { "application/json": { schema: updateEndpointBodySchema } },
};

export const updateTenantEndpointRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints/{id}",
  description,
  request: { params: tenantEndpointIdParamsSchema, body },
});

export const updateEndpointRoute = createRoute({
  ...common,
  path: "/v1/endpoints/{id}",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  request: { params: endpointIdParamsSchema, body },
});

export function registerUpdateEndpoint(
  register: RegisterRoute,
  deps: { registry: EndpointRegistry; endpointPorts?: EndpointPortPolicy | undefined },
) {
  const ports = deps.endpointPorts ?? DEFAULT_ENDPOINT_PORT_POLICY;
  const update = async (
    c: Context<KitEnv>,
    tenantId: string,
    id: string,
    changes: EndpointChanges,
  ) => {
    // A stored URL that is left alone keeps working here; delivery judges it at send time.
    if (changes.url !== undefined) {
      const verdict = checkEndpointUrl(changes.url, ports);
      if (verdict.outcome === "refused") return invalidField(c, "url", verdict.message);
    }
    const result = await deps.registry.update(id, changes, c.get("actor"), tenantId);
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
  };
  register(updateTenantEndpointRoute, (c) => {
    const { tenantId, id } = c.req.valid("param");
    return update(c, tenantId, id, c.req.valid("json"));
  });
  register(updateEndpointRoute, (c) =>
    update(c, DEFAULT_TENANT_ID, c.req.valid("param").id, c.req.valid("json")),
  );
}
