import { ensureTenantBucket, type HooklineNames, openBucket } from "@hookline/contracts";
import { NotProvisionedError, type ProvisionMode } from "@hookline/kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

export { ensureTenantBucket };

/**
 * The tenants bucket: created or opened in apply mode, only opened in verify mode (the provision
 * step creates it). Only ingest reads or writes it, so only ingest and the provision step know it.
 */
export async function tenantBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  names: HooklineNames,
  mode: ProvisionMode,
  replicas = 1,
): Promise<KV> {
  if (mode === "apply") return ensureTenantBucket(nc, names, replicas);
  const opened = await openBucket(nc, jsm, names.kv.tenants);
  if (opened.outcome === "missing") throw new NotProvisionedError(opened.resource);
  return opened.kv;
}
