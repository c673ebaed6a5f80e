import type { HooklineNames } from "@hookline/contracts";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Creates or opens the tenants bucket. Only ingest reads or writes it, so only ingest creates
 * it (with the shared resources, in provisionUntilDone's `after`). One revision per key: nothing
 * reads older ones, and a deletion purges the key anyway.
 */
export function ensureTenantBucket(
  nc: NatsConnection,
  names: HooklineNames,
  replicas = 1,
): Promise<KV> {
  return new Kvm(nc).create(names.kv.tenants, { history: 1, replicas });
}
