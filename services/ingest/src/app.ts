import type { OpenAPIHono } from "@hono/zod-openapi";
import type { EndpointPortPolicy } from "@hookline/contracts";
import {
  type ApiToken,
  bearerAuth,
  createServiceApp,
  type EndpointCache,
  type KitEnv,
  type Logger,
  mountApiDocs,
  type ReadinessChecks,
  type SecretBox,
  type ServiceMetrics,
} from "@hookline/kit";
import type { EndpointRegistry } from "./endpoints/registry";
import { MAX_PAYLOAD_DEPTH } from "./events/payload-depth";
import type { EventPublisher } from "./events/publisher";
import { type IngestBodyLimits, ingestBodyLimit } from "./http/body-limits";
import { installFastEventRoutes } from "./http/fast-events";
import { registerProblemComponents, serviceUnavailable } from "./http/problems";
import { countRejectedEvents, type IngestMetrics } from "./metrics";
import type { BreakerOperations } from "./operations/breakers";
import type { SystemHealthReader } from "./operations/system-health";
import { registerCreateEndpoint } from "./routes/create-endpoint";
import { registerCreateTenant } from "./routes/create-tenant";
import { registerDeleteEndpoint } from "./routes/delete-endpoint";
import { registerDeleteTenant } from "./routes/delete-tenant";
import { registerGetEndpoint } from "./routes/get-endpoint";
import { registerGetEndpointHealth } from "./routes/get-endpoint-health";
import { registerGetEndpointSecret } from "./routes/get-endpoint-secret";
import { registerGetSystemHealth } from "./routes/get-system-health";
import { registerGetTenant } from "./routes/get-tenant";
import { registerListEndpoints } from "./routes/list-endpoints";
import { registerListTenants } from "./routes/list-tenants";
import { registerPublishEvent } from "./routes/publish-event";
import { registerPublishEventBatch } from "./routes/publish-event-batch";
import { registerRoutes } from "./routes/registration";
import { registerResetEndpointBreaker } from "./routes/reset-endpoint-breaker";
import { registerRotateEndpointSecret } from "./routes/rotate-endpoint-secret";
import { registerUpdateEndpoint } from "./routes/update-endpoint";
import { registerUpdateTenant } from "./routes/update-tenant";
import type { TenantRegistry } from "./tenants/registry";
import type { TenantView } from "./tenants/tenant-view";

export type IngestApp = OpenAPIHono<KitEnv>;

export interface IngestAppDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  ingestMetrics: IngestMetrics;
  readiness: ReadinessChecks;
  tokens: readonly ApiToken[];
  limits: IngestBodyLimits;
  registry: EndpointRegistry;
  cache: Pick<EndpointCache, "get" | "all">;
  tenantRegistry: TenantRegistry;
  /** Whether a tenant exists, asked on every request to a tenant path: in memory. */
  tenants: Pick<TenantView, "state" | "get" | "all">;
  /** Opens the sealed secret GET …/secret shows; absent: secrets are stored in plaintext. */
  secretBox?: SecretBox | undefined;
  events: EventPublisher;
  /** Every delivery instance's breaker of an endpoint, over NATS (kit's control client). */
  breakers: BreakerOperations;
  /** Every service instance and stream, over NATS. */
  systemHealth: SystemHealthReader;
  /** ENDPOINT_BLOCKED_PORTS and ENDPOINT_ALLOWED_PORTS; default DEFAULT_ENDPOINT_PORT_POLICY. */
  endpointPorts?: EndpointPortPolicy;
  /** Serve the event routes' plainly valid requests on a fast path (default); tests compare. */
  fastEventRoutes?: boolean;
}

export const apiInfo = {
  title: "Hookline ingest",
  version: "0.1.0",
  description:
    "Accepts events and fans them out to the registered webhook endpoints. Every /v1 call " +
    "takes `Authorization: Bearer <token>`; errors are application/problem+json. Bodies are " +
    "limited by INGEST_MAX_BODY_BYTES (INGEST_MAX_BATCH_BYTES for batches), decided from " +
    `Content-Length (413); a payload nests at most ${MAX_PAYLOAD_DEPTH} levels of arrays and ` +
    "objects (400). A 503 names the event ids to resend with, so each keeps its webhook-id. " +
    "Endpoints and events belong to tenants (/v1/tenants/{tenantId}/…); the paths without a " +
    "tenant (/v1/endpoints…, /v1/events…) act for the `default` tenant. Custom header values " +
    "of endpoints are write-only: every read shows `<redacted>` in their place. Each route " +
    "names the scopes its token needs (`x-required-scopes`; 403 `missing_scope` without one). " +
    "A token bound to a tenant meets every other tenant, and the default tenant's paths, as a " +
    "tenant that does not exist (404).",
};

export function createIngestApp(deps: IngestAppDeps): IngestApp {
  const app = createServiceApp<KitEnv>({
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: deps.readiness,
    bodyLimit: ingestBodyLimit(deps.limits),
    // Outside the body limit, so its 413s are counted as rejected events too.
    outerMiddleware: [countRejectedEvents(deps.ingestMetrics)],
  });
  registerProblemComponents(app);
  mountApiDocs(app, apiInfo);

  app.use("/v1/*", bearerAuth(deps.tokens));

  const register = registerRoutes(app, deps);
  registerCreateTenant(register, deps);
  registerListTenants(register, deps);
  registerGetTenant(register, deps);
  registerUpdateTenant(register, deps);
  registerDeleteTenant(register, deps);
  registerCreateEndpoint(register, deps);
  registerListEndpoints(register, deps);
  registerGetEndpoint(register, deps);
  registerUpdateEndpoint(register, deps);
  registerDeleteEndpoint(register, deps);
  registerGetEndpointSecret(register, deps);
  registerRotateEndpointSecret(register, deps);
  registerGetEndpointHealth(register, deps);
  registerResetEndpointBreaker(register, deps);
  registerGetSystemHealth(register, deps);
  registerPublishEvent(register, deps);
  registerPublishEventBatch(register, deps);
  if (deps.fastEventRoutes !== false) installFastEventRoutes(app, deps);
  return app;
}

/**
 * What the port serves until NATS is reached and provisioned: health, readiness and metrics
 * answer, and the API says 503 so clients retry.
 */
export function createStartingApp(
  deps: Pick<IngestAppDeps, "logger" | "metrics" | "readiness" | "limits">,
) {
  const app = createServiceApp<KitEnv>({ ...deps, bodyLimit: ingestBodyLimit(deps.limits) });
  app.all("/v1/*", (c) => serviceUnavailable(c, "ingest is starting: NATS is not ready yet"));
  return app;
}
