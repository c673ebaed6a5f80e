import { encodeTask, type TaskMeta, taskHeaderBlock } from "@hookline/contracts";
import { createHeaderBlockPublisher } from "@hookline/kit";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Stores one task in JetStream (`msgId` is its Nats-Msg-Id) and resolves with its PubAck. */
export interface TaskPublisher {
  publish(subject: string, data: Uint8Array, task: TaskMeta, msgId: string): Promise<PubAck>;
}

/** The stock client: one `nc.request` per task. */
export function jetStreamTaskPublisher(js: JetStreamClient, timeoutMs: number): TaskPublisher {
  return {
    publish: (subject, data, task, msgId) =>
      js.publish(subject, data, { headers: encodeTask(task, msgId), timeout: timeoutMs }),
  };
}

/**
 * Tasks published with kit's header-block publisher: the PubAcks read off one inbox, the
 * publishes of one millisecond in one socket write, and the headers encoded straight to
 * bytes (contracts' taskHeaderBlock, the same bytes as encodeTask).
 */
export function pubAckTaskPublisher(nc: NatsConnection, timeoutMs: number): TaskPublisher {
  const send = createHeaderBlockPublisher(nc, timeoutMs);
  return {
    publish(subject, data, task, msgId) {
      let block: Uint8Array;
      try {
        block = taskHeaderBlock(task, msgId);
      } catch (error) {
        return Promise.reject(error);
      }
      return send(subject, data, block);
    },
  };
}
