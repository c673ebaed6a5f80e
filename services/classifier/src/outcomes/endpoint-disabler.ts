import { createEndpointWriter, type EndpointCache } from "@hookline/kit";
import type { KV } from "@nats-io/kv";

export type DisableEndpointResult =
  | { outcome: "disabled"; revision: number }
  | { outcome: "already_disabled" }
  | { outcome: "missing" }
  /** The stored record fails the schema: a bug in its writer; we won't write over it. */
  | { outcome: "invalid"; error: string }
  /** Other writers kept winning the compare-and-set. */
  | { outcome: "conflict" };

export interface EndpointDisabler {
  disable(endpointId: string, reason: string): Promise<DisableEndpointResult>;
}

/**
 * Disables endpoints by compare-and-set on their KV revision (kit's endpoint writer), so an
 * operator's concurrent edit through ingest is never overwritten.
 */
export function createEndpointDisabler(options: {
  kv: KV;
  endpoints: Pick<EndpointCache, "get">;
  now?: () => number;
}): EndpointDisabler {
  const writer = createEndpointWriter(options);
  const now = options.now ?? Date.now;
  return {
    async disable(endpointId, reason) {
      const result = await writer.write(endpointId, (record) =>
        record.disabled
          ? undefined
          : {
              ...record,
              disabled: true,
              disabledReason: reason,
              updatedAt: new Date(now()).toISOString(),
            },
      );
      switch (result.outcome) {
        case "written":
          return { outcome: "disabled", revision: result.revision };
        case "unchanged":
          return { outcome: "already_disabled" };
        default:
          return result;
      }
    },
  };
}
