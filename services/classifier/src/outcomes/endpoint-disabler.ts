import { type EndpointRecord, endpointRecordSchema } from "@hookline/contracts";
import type { CachedEndpoint, EndpointCache } from "@hookline/kit";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
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

const MAX_WRITE_ATTEMPTS = 5;

function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

type Current = CachedEndpoint | { invalid: string } | undefined;

/**
 * Disables endpoints by compare-and-set on their KV revision, so an operator's concurrent edit
 * through ingest is never overwritten: on a conflict it re-reads and tries again. The first try
 * starts from the endpoint cache, so the write is usually the only KV call.
 */
export function createEndpointDisabler(options: {
  kv: KV;
  endpoints: Pick<EndpointCache, "get">;
  now?: () => number;
}): EndpointDisabler {
  const { kv } = options;
  const now = options.now ?? Date.now;

  const read = async (id: string): Promise<Current> => {
    const entry = await kv.get(id);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = endpointRecordSchema.safeParse(entry.json());
    if (!parsed.success) return { invalid: parsed.error.message };
    return { record: parsed.data, revision: entry.revision };
  };

  return {
    async disable(endpointId, reason) {
      let current: Current = options.endpoints.get(endpointId) ?? (await read(endpointId));
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        if (current === undefined) return { outcome: "missing" };
        if ("invalid" in current) return { outcome: "invalid", error: current.invalid };
        if (current.record.disabled) return { outcome: "already_disabled" };
        const next: EndpointRecord = {
          ...current.record,
          disabled: true,
          disabledReason: reason,
          updatedAt: new Date(now()).toISOString(),
        };
        try {
          const revision = await kv.update(endpointId, JSON.stringify(next), current.revision);
          return { outcome: "disabled", revision };
        } catch (error) {
          if (!isRevisionConflict(error)) throw error;
        }
        current = await read(endpointId);
      }
      return { outcome: "conflict" };
    },
  };
}
