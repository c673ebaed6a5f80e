import {
  type OpsEventMessage,
  opsEventId,
  tenantOfEndpoint,
  urlWithoutCredentials,
} from "@hookline/contracts";
import type { EndpointChange } from "@hookline/kit";

/**
 * The operational event of an endpoint change, if it turned `disabled` on or off. Whoever made
 * the change (the API, the classifier's 410 or auto-disable), every ingest instance's watch sees
 * it: the id carries the KV revision, so they store one event. Endpoints of the system tenant
 * are left out: an operator endpoint's own troubles must not feed the operator endpoints.
 */
export function endpointTransitionEvent(
  change: EndpointChange,
  now: number,
  systemTenantId: string,
): OpsEventMessage | undefined {
  const { previous, current } = change;
  if (previous === undefined || current === undefined) return undefined;
  if (previous.disabled === current.disabled) return undefined;
  const tenantId = tenantOfEndpoint(current);
  if (tenantId === systemTenantId) return undefined;
  const kind = current.disabled ? "endpoint.disabled" : "endpoint.enabled";
  let host: string | undefined;
  try {
    host = new URL(urlWithoutCredentials(current.url)).host;
  } catch {
    host = undefined;
  }
  return {
    id: opsEventId(kind, current.id, `r${change.revision}`),
    kind,
    occurredAt: new Date(now).toISOString(),
    data: {
      endpointId: current.id,
      tenantId,
      ...(host !== undefined ? { host } : {}),
      ...(current.description !== undefined ? { description: current.description } : {}),
      ...(current.disabled ? { reason: current.disabledReason ?? null } : {}),
    },
    link: {
      service: "ingest",
      path: `/v1/tenants/${encodeURIComponent(tenantId)}/endpoints/${current.id}`,
    },
  };
}
