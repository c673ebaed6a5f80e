import type { Logger } from "@hookline/kit";
import type { TenantRegistry } from "../tenants/registry";
import type { TenantView } from "../tenants/tenant-view";

export const SYSTEM_TENANT_NAME = "Hookline operational events";

/**
 * Creates the tenant operational events belong to, unless it exists, so an operator can
 * subscribe endpoints to them at once. A failure is logged: creating it through the API
 * (POST /v1/tenants) does the same.
 */
export async function ensureSystemTenant(options: {
  tenantId: string;
  view: Pick<TenantView, "state">;
  registry: Pick<TenantRegistry, "create">;
  logger: Logger;
}): Promise<void> {
  const { tenantId, view, registry, logger } = options;
  if (view.state(tenantId) !== "unknown") return;
  const result = await registry.create({ id: tenantId, name: SYSTEM_TENANT_NAME }, "hookline");
  if (result.outcome === "unavailable") {
    logger.warn(
      { tenantId },
      "the operational events' tenant could not be created; it can be created through the API",
    );
  } else if (result.outcome === "created") {
    logger.info({ tenantId }, "created the operational events' tenant");
  }
}
