/** Where a task of an event stands, as far as the attempt log and the dead letters tell. */
export const taskStates = ["delivered", "retrying", "dead_lettered", "replayed", "failed"] as const;
export type TaskState = (typeof taskStates)[number];

/** The fields of a task's latest attempt (by attempted_at) that decide its state. */
export interface LatestAttempt {
  attemptedAt: Date;
  result: string;
  decision: string | null;
}

/** The task's dead letter, if it has one. */
export interface TaskLetter {
  deadAt: Date;
  /** The latest replay of the letter (from its audit trail), if any. */
  replayedAt: Date | null;
}

/**
 * The latest of three things decides: the latest attempt, the letter's death, the letter's
 * replay. A replay after both is `replayed` (the task is on its way again, no attempt logged
 * yet). A death at or after the latest attempt is `dead_lettered` (also a task that died
 * without any attempt, e.g. backlog_full or poison). Otherwise the latest attempt tells:
 * delivered; the classifier's retry or dead-letter decision (a death the dlq has not stored
 * yet); anything else, a failure the classifier neither retried nor dead-lettered, is `failed`.
 */
export function taskState(
  latest: LatestAttempt | undefined,
  letter: TaskLetter | undefined,
): TaskState {
  const attemptAt = latest?.attemptedAt.getTime() ?? Number.NEGATIVE_INFINITY;
  if (letter !== undefined) {
    const deadAt = letter.deadAt.getTime();
    const replayedAt = letter.replayedAt?.getTime();
    if (replayedAt !== undefined && replayedAt > attemptAt && replayedAt >= deadAt) {
      return "replayed";
    }
    if (deadAt >= attemptAt) return "dead_lettered";
  }
  if (latest === undefined) return "failed";
  if (latest.result === "delivered") return "delivered";
  if (latest.decision === "retry") return "retrying";
  if (latest.decision === "deadletter") return "dead_lettered";
  return "failed";
}
