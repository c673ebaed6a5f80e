import {
  type DeadLetterReason,
  deadLetterOfTask,
  encodeDeadLetter,
  type HooklineNames,
  type TaskMeta,
} from "@hookline/contracts";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";

/**
 * Dead-letters a task as it stands (no new attempt), body unchanged, PubAck awaited. For the
 * writers that find an endpoint's backlog full: ingest, delivery moving a task, the tiers.
 */
export function publishTaskDeadLetter(options: {
  js: JetStreamClient;
  names: HooklineNames;
  task: TaskMeta;
  body: Uint8Array;
  reason: DeadLetterReason;
  /** Unique per source message and stable across its redelivery. */
  msgId: string;
}): Promise<PubAck> {
  const { task } = options;
  return options.js.publish(options.names.subjects.deadletter(task.endpointId), options.body, {
    headers: encodeDeadLetter(deadLetterOfTask(task, options.reason), options.msgId),
  });
}
