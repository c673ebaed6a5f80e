import { tenantOfEndpoint } from "@hookline/contracts";
import type { CachedEndpoint, EndpointCache } from "@hookline/kit";

/** The endpoint from the cache if it belongs to the tenant: another tenant's is not found. */
export function tenantEndpoint(
  cache: Pick<EndpointCache, "get">,
  tenantId: string,
  id: string,
): CachedEndpoint | undefined {
  const cached = cache.get(id);
  return cached !== undefined && tenantOfEndpoint(cached.record) === tenantId ? cached : undefined;
}
