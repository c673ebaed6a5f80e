import { createRoute } from "@hono/zod-openapi";
import {
  checkEndpointUrl,
  DEFAULT_ENDPOINT_PORT_POLICY,
  DEFAULT_TENANT_ID,
  type EndpointPortPolicy,
} from "@hookline/contracts";
import type { IngestScope, KitEnv } from "@hookline/kit";
import type { Context } from "hono";
import type { EndpointRegistry, NewEndpoint } from "../endpoints/registry";
import {
  createdEndpointSchema,
  createEndpointBodySchema,
  publicEndpoint,
  tenantParamsSchema,
} from "../http/endpoint-schemas";
import {
  endpointStoreUnavailable,
  invalidField,
  problemRef,
  tenantDeleting,
  tenantNotFound,
} from "../http/problems";
import type { TenantView } from "../tenants/tenant-view";
import { LEGACY_PATH_NOTE } from "./legacy-paths";
import type { RegisterRoute } from "./registration";

const common = {
  method: "post" as const,
  tags: ["endpoints"],
  "x-required-scopes": ["endpoints:write", "secrets:read"] satisfies IngestScope[],
  summary: "Register an endpoint",
  request: {
    body: { required: true, content: { "application/json": { schema: createEndpointBodySchema } } },
  },
};
const description =
  "Answers with the endpoint and its signing secret, which is shown again only by GET …/secret.";
const responses = {
  201: {
    description: "Created",
    content: { "application/json": { schema: createdEndpointSchema } },
  },
  400: problemRef.BadRequest,
  401: problemRef.Unauthorized,
  413: problemRef.PayloadTooLarge,
  503: problemRef.Unavailable,
};

export const createTenantEndpointRoute = createRoute({
  ...common,
  path: "/v1/tenants/{tenantId}/endpoints",
  description: `${description} A tenant being deleted takes no new endpoints (409).`,
  request: { ...common.request, params: tenantParamsSchema },
  responses: { ...responses, 404: problemRef.NotFound, 409: problemRef.Conflict },
});

export const createEndpointRoute = createRoute({
  ...common,
  path: "/v1/endpoints",
  description: `${description} ${LEGACY_PATH_NOTE}`,
  responses,
});

export function registerCreateEndpoint(
  register: RegisterRoute,
  deps: {
    registry: EndpointRegistry;
    tenants: Pick<TenantView, "state">;
    endpointPorts?: EndpointPortPolicy | undefined;
  },
) {
  const ports = deps.endpointPorts ?? DEFAULT_ENDPOINT_PORT_POLICY;
  const create = async (c: Context<KitEnv>, tenantId: string, input: NewEndpoint) => {
    const verdict = checkEndpointUrl(input.url, ports);
    if (verdict.outcome === "refused") return invalidField(c, "url", verdict.message);
    if (deps.tenants.state(tenantId) === "deleting") return tenantDeleting(c, tenantId);
    const actor = c.get("actor");
    const result = await deps.registry.create({ ...input, tenantId }, actor);
    switch (result.outcome) {
      case "created": {
        // Its deletion began while this was written: the deletion may have swept before it.
        const state = deps.tenants.state(tenantId);
        if (state !== "open") {
          await deps.registry.remove(result.record.id, actor, tenantId);
          return state === "deleting" ? tenantDeleting(c, tenantId) : tenantNotFound(c, tenantId);
        }
        const [newest] = result.record.secrets;
        return c.json({ ...publicEndpoint(result.record), secret: newest?.value ?? "" }, 201);
      }
      case "invalid":
        return invalidField(c, result.path, result.message);
      case "unavailable":
        return endpointStoreUnavailable(c);
    }
  };
  register(createTenantEndpointRoute, (c) =>
    create(c, c.req.valid("param").tenantId, c.req.valid("json")),
  );
  register(createEndpointRoute, (c) => create(c, DEFAULT_TENANT_ID, c.req.valid("json")));
}
