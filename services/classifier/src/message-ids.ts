/**
 * Nats-Msg-Id values the classifier publishes with.
 *
 * DESIGN.md names them `<taskId>#<attempt>`; each also ends in `@<seq>`, the stream sequence of
 * the message being handled (the outcome, the waiting retry, the poisoned task). A redelivery of
 * that message keeps its sequence, so a crash between publishing and acking still dedupes. But a
 * task that a DLQ replay resets to attempt 0 reaches the same attempt numbers again, and inside
 * the duplicate window `<taskId>#1` alone would be dropped as a duplicate while its source was
 * acked: a silent loss. Delivery's outcome ids carry the dispatch sequence for the same reason.
 */

import type { TaskPass } from "@hookline/contracts";

/**
 * `<taskId>#<attempt>@<seq>`, or `<taskId>#<attempt>d<deferrals>@<seq>` once deferred. It lives
 * in contracts: the dlq's retry-now publishes a waiting retry under the id its release would use.
 */
export { passMsgId } from "@hookline/contracts";

/** `<taskId>#dead<attempt>@<outcomeSeq>` */
export function deadLetterMsgId(pass: Omit<TaskPass, "deferrals">, sourceSeq: number): string {
  return `${pass.taskId}#dead${pass.attempt}@${sourceSeq}`;
}

/** `<taskId>#poison@<dispatchSeq>` */
export function poisonMsgId(taskId: string, dispatchSeq: number): string {
  return `${taskId}#poison@${dispatchSeq}`;
}
