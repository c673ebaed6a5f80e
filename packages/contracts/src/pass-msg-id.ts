/** The fields of a task that name one pass of it through the classifier. */
export interface TaskPass {
  taskId: string;
  attempt: number;
  deferrals: number;
}

/**
 * `<taskId>#<attempt>@<seq>`, or `<taskId>#<attempt>d<deferrals>@<seq>` once deferred: the
 * Nats-Msg-Id of a classifier publish made while handling the message at stream sequence `seq`
 * (services/classifier/src/message-ids.ts says why the sequence is in it). Here because the dlq's
 * retry-now publishes a waiting retry with the very id its tier's release would use, so that
 * JetStream's duplicate window keeps one of the two if both happen.
 */
export function passMsgId(pass: TaskPass, sourceSeq: number): string {
  const deferred = pass.deferrals > 0 ? `d${pass.deferrals}` : "";
  return `${pass.taskId}#${pass.attempt}${deferred}@${sourceSeq}`;
}
