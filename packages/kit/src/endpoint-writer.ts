import { type EndpointRecord, endpointRecordSchema } from "@hookline/contracts";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { CachedEndpoint, EndpointCache } from "./endpoint-cache";

/** What to write instead of `record`, or undefined when it needs no change. */
export type EndpointEdit = (record: EndpointRecord) => EndpointRecord | undefined;

export type EndpointWriteResult =
  | { outcome: "written"; revision: number; record: EndpointRecord }
  | { outcome: "unchanged" }
  | { outcome: "missing" }
  /** The stored record fails the schema: a bug in its writer; we won't write over it. */
  | { outcome: "invalid"; error: string }
  /** Other writers kept winning the compare-and-set. */
  | { outcome: "conflict" };

export interface EndpointWriter {
  write(endpointId: string, edit: EndpointEdit): Promise<EndpointWriteResult>;
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
 * Changes endpoint records by compare-and-set on their KV revision, so concurrent writers (the
 * API, the classifier's disabling, delivery's health marks) never overwrite each other: on a
 * conflict it re-reads and edits again. The first try starts from the cache, so the write is
 * usually the only KV call.
 */
export function createEndpointWriter(options: {
  kv: KV;
  endpoints: Pick<EndpointCache, "get">;
}): EndpointWriter {
  const { kv } = options;

  const read = async (id: string): Promise<Current> => {
    const entry = await kv.get(id);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = endpointRecordSchema.safeParse(entry.json());
    if (!parsed.success) return { invalid: parsed.error.message };
    return { record: parsed.data, revision: entry.revision };
  };

  return {
    async write(endpointId, edit) {
      let current: Current = options.endpoints.get(endpointId) ?? (await read(endpointId));
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        if (current === undefined) return { outcome: "missing" };
        if ("invalid" in current) return { outcome: "invalid", error: current.invalid };
        const next = edit(current.record);
        if (next === undefined) return { outcome: "unchanged" };
        try {
          const revision = await kv.update(endpointId, JSON.stringify(next), current.revision);
          return { outcome: "written", revision, record: next };
        } catch (error) {
          if (!isRevisionConflict(error)) throw error;
        }
        current = await read(endpointId);
      }
      return { outcome: "conflict" };
    },
  };
}
