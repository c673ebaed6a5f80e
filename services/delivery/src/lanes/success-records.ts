import {
  encodeRecordBatch,
  type HooklineNames,
  RECORD_BATCH_MAX_BYTES,
  type RecordFrame,
} from "@hookline/contracts";
import { encodedHeaders, type Logger } from "@hookline/kit";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * The attempt log's success records, published per write turn: the records of one endpoint that
 * finished in the same turn go out as ONE ATTEMPTS message (a record batch, contracts'
 * record-batch.ts), a record alone as itself. JetStream then stores, and the dlq pulls and
 * acks, one message per turn rather than one per success: those were most of what the log
 * cost nats-server and the dlq.
 */
export interface SuccessRecords {
  /** Holds a record until the turn's writes are done (the coalescer's afterWrites). */
  add(endpointId: string, headers: Uint8Array, data: Uint8Array): void;
  /** Publishes every record held: one message per endpoint. */
  publish(): void;
}

interface Held {
  frames: RecordFrame[];
  bytes: number;
}

export function createSuccessRecords(deps: {
  nc: NatsConnection;
  names: HooklineNames;
  logger: Logger;
}): SuccessRecords {
  const { nc, names, logger } = deps;
  let held = new Map<string, Held>();

  const publishFor = (endpointId: string, frames: readonly RecordFrame[]) => {
    const subject = names.subjects.outcomeDelivered(endpointId);
    // Audit only, so a core publish: the stream stores it, and neither side spends a PubAck on it.
    try {
      const only = frames.length === 1 ? frames[0] : undefined;
      if (only !== undefined) {
        nc.publish(subject, only.data, {
          headers: encodedHeaders(only.headers),
        });
        return;
      }
      const batch = encodeRecordBatch(frames);
      nc.publish(subject, batch.data, {
        headers: encodedHeaders(batch.headers),
      });
    } catch (error) {
      logger.debug({ err: error, endpointId, records: frames.length }, "audit outcomes lost");
    }
  };

  return {
    add(endpointId, headers, data) {
      const size = 8 + headers.byteLength + data.byteLength;
      let group = held.get(endpointId);
      if (group !== undefined && group.bytes + size > RECORD_BATCH_MAX_BYTES) {
        publishFor(endpointId, group.frames);
        group = undefined;
      }
      if (group === undefined) {
        group = { frames: [], bytes: 0 };
        held.set(endpointId, group);
      }
      group.frames.push({ headers, data });
      group.bytes += size;
    },
    publish() {
      if (held.size === 0) return;
      const groups = held;
      held = new Map();
      for (const [endpointId, group] of groups) publishFor(endpointId, group.frames);
    },
  };
}
