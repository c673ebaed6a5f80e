import {
  decodeTask,
  encodeTask,
  type HooklineNames,
  isBacklogFull,
  passMsgId,
} from "@hookline/contracts";
import type { Logger } from "@hookline/kit";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { Kysely } from "kysely";
import { type EventTask, viewEvent } from "../attempts/event-view";
import type { TaskState } from "../attempts/task-state";
import type { Database } from "../db/schema";
import type { RetryNowOutcome } from "./outcomes";
import { findWaitingCopy, MAX_SCANNED } from "./waiting-copy";

/** The copy may have been written a little before its attempt's logged time (clock skew). */
export const CLOCK_SKEW_MS = 60_000;
/** Tries at deleting a copy already sent, and the pause before each try after the first. */
const DELETE_PAUSES_MS = [0, 250, 1_000, 2_000];
const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000;

interface TaskRef {
  taskId: string;
  endpointId: string | null;
}

export type TaskRetryResult = TaskRef &
  /** Published to dispatch.retry now; its copy in the tier is deleted. */
  (
    | { outcome: "sent"; retrySeq: number }
    /** Its tier had released it already (or did so meanwhile): nothing more was sent. */
    | { outcome: "already_released" }
    /** Not waiting for a retry: delivered, failed without retry, or replayed. */
    | { outcome: "not_waiting"; state: TaskState }
    /** The endpoint's backlog quota is full: nothing was sent, the copy waits its turn. */
    | { outcome: "backlog_full"; retrySeq: number }
    /** Its copy cannot be read as a task: left alone (the tier dead-letters it when due). */
    | { outcome: "invalid_copy"; retrySeq: number; error: string }
    /** Its endpoint has more than MAX_SCANNED retries waiting after it: not looked further. */
    | { outcome: "not_found_in_scan"; scanned: number }
    /** NATS failed before anything was sent: nothing changed, call again. */
    | { outcome: "unavailable"; stage: "search" | "publish" }
    /**
     * Sent, but its copy in the tier could not be deleted: it will be sent again when due
     * (beyond the duplicate window) unless deleted. Call again, or delete `retrySeq` from RETRY.
     */
    | { outcome: "copy_kept"; retrySeq: number }
  );

export interface DeadTask {
  taskId: string;
  endpointId: string | null;
  /** Null while the dlq has not stored the letter yet. */
  deadLetterId: string | null;
}

export type RetryNowResult =
  | { outcome: "done"; tenantId: string; eventId: string; tasks: TaskRetryResult[] }
  | { outcome: "not_found" }
  | { outcome: "ambiguous"; tenantCount: number }
  /** `endpointId` named no task of the event. */
  | { outcome: "task_not_found"; endpointId: string }
  /** Some task chosen is dead-lettered: nothing was done; replay its letter instead. */
  | { outcome: "dead_lettered"; letters: DeadTask[] };

export interface EventRetrier {
  retryNow(request: {
    eventId: string;
    tenantId?: string | undefined;
    endpointId?: string | undefined;
  }): Promise<RetryNowResult>;
}

export interface EventRetrierOptions {
  db: Kysely<Database>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: HooklineNames;
  /** Counts each task's outcome. */
  counted: (outcome: RetryNowOutcome) => void;
  logger: Logger;
  publishTimeoutMs?: number;
  maxScanned?: number;
  now?: () => number;
  /** Waits between delete tries; tests pass a quick one. */
  pause?: (ms: number) => Promise<void>;
}

const isNoMessage = (error: unknown) =>
  error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound;

/**
 * Retry now: each chosen task of the event that waits in a retry tier is sent at once, and its
 * copy in the tier is deleted so that it is never sent again.
 *
 * The order is publish, then delete, and the publish carries the Nats-Msg-Id the tier's
 * release would use (`passMsgId(task, seq)`), so:
 * - a release racing this one (the copy came due meanwhile) is one send: whichever publish is
 *   second, JetStream's duplicate window drops it (a duplicate PubAck here means the release
 *   was first: `already_released`);
 * - a failure never loses the task: until the delete, the copy is still in its tier. Deleting
 *   first and then failing to publish (NATS gone, the process killed) would lose it.
 * The price is the one failure left: the publish stored and the delete failing every try (NATS
 * gone in between). Then the copy is sent again when due, a second send under the same
 * webhook-id (Standard Webhooks receivers dedupe by it); the answer says so (`copy_kept`,
 * with the copy's sequence). A second call within DISPATCH_RETRY's duplicate window, while the
 * log still shows the task retrying, publishes the same id again (dropped) and deletes it.
 * Two calls at once are one send the same way.
 */
export function createEventRetrier(options: EventRetrierOptions): EventRetrier {
  const { db, js, jsm, names, logger } = options;
  const now = options.now ?? Date.now;
  const timeout = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const pause =
    options.pause ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  /** Deletes the sent copy; one already gone (released, or deleted by a racing call) is fine. */
  const deleteCopy = async (seq: number): Promise<boolean> => {
    for (const ms of DELETE_PAUSES_MS) {
      if (ms > 0) await pause(ms);
      try {
        await jsm.streams.deleteMessage(names.streams.retry, seq, false);
        return true;
      } catch (error) {
        if (isNoMessage(error)) return true;
        logger.warn({ err: error, retrySeq: seq }, "retry now: cannot delete a sent retry's copy");
      }
    }
    return false;
  };

  /** Sends one found copy now (publish, then delete) and says what came of it. */
  const sendCopy = async (ref: TaskRef, endpointId: string, copy: StoredMsg) => {
    const decoded = decodeTask(copy.header);
    if (!decoded.ok) {
      return { ...ref, outcome: "invalid_copy", retrySeq: copy.seq, error: decoded.error } as const;
    }
    const task = decoded.value;
    let duplicate: boolean;
    try {
      const ack = await js.publish(names.subjects.dispatchRetry(endpointId), copy.data, {
        headers: encodeTask({ ...task, notBefore: now() }, passMsgId(task, copy.seq)),
        timeout,
      });
      duplicate = ack.duplicate;
    } catch (error) {
      if (isBacklogFull(error))
        return { ...ref, outcome: "backlog_full", retrySeq: copy.seq } as const;
      logger.warn({ err: error, taskId: ref.taskId }, "retry now: publish failed; nothing sent");
      return { ...ref, outcome: "unavailable", stage: "publish" } as const;
    }
    if (!(await deleteCopy(copy.seq))) {
      logger.error(
        { taskId: ref.taskId, retrySeq: copy.seq, stream: names.streams.retry },
        "retry now: sent, but its waiting copy could not be deleted and will be sent again when due",
      );
      return { ...ref, outcome: "copy_kept", retrySeq: copy.seq } as const;
    }
    return duplicate
      ? ({ ...ref, outcome: "already_released" } as const)
      : ({ ...ref, outcome: "sent", retrySeq: copy.seq } as const);
  };

  const retryTask = async (task: EventTask): Promise<TaskRetryResult> => {
    const ref = { taskId: task.taskId, endpointId: task.endpointId };
    const { endpointId } = task;
    if (task.state !== "retrying" || endpointId === null) {
      return { ...ref, outcome: "not_waiting", state: task.state };
    }
    const since = (task.lastAttemptAt?.getTime() ?? 0) - CLOCK_SKEW_MS;
    let search: Awaited<ReturnType<typeof findWaitingCopy>>;
    try {
      search = await findWaitingCopy(jsm, names, {
        taskId: task.taskId,
        endpointId,
        since: new Date(Math.max(0, since)),
        maxScanned: options.maxScanned ?? MAX_SCANNED,
      });
    } catch (error) {
      logger.warn({ err: error, taskId: task.taskId }, "retry now: cannot search the tiers");
      return { ...ref, outcome: "unavailable", stage: "search" };
    }
    switch (search.outcome) {
      case "absent":
        return { ...ref, outcome: "already_released" };
      case "too_many":
        return { ...ref, outcome: "not_found_in_scan", scanned: search.scanned };
      case "found":
        return sendCopy(ref, endpointId, search.copy);
    }
  };

  return {
    async retryNow(request) {
      const found = await viewEvent(db, request);
      if (found.outcome !== "found") return found;
      const { event } = found;
      const chosen =
        request.endpointId === undefined
          ? event.tasks
          : event.tasks.filter((task) => task.endpointId === request.endpointId);
      if (request.endpointId !== undefined && chosen.length === 0) {
        return { outcome: "task_not_found", endpointId: request.endpointId };
      }
      // A letter the dlq has not stored yet has no id: still dead, still a replay's to send.
      const dead = chosen.flatMap((task) =>
        task.state === "dead_lettered"
          ? [{ taskId: task.taskId, endpointId: task.endpointId, deadLetterId: task.deadLetterId }]
          : [],
      );
      if (dead.length > 0) return { outcome: "dead_lettered", letters: dead };
      const tasks = await Promise.all(chosen.map(retryTask));
      for (const task of tasks) options.counted(task.outcome);
      return { outcome: "done", tenantId: event.tenantId, eventId: event.eventId, tasks };
    },
  };
}
