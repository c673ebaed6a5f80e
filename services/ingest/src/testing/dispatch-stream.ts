import { type Decoded, decodeTask, type TaskMeta } from "@hookline/contracts";
import type { JetStreamManager } from "@nats-io/jetstream";

export interface StoredTask {
  subject: string;
  meta: Decoded<TaskMeta>;
  body: string;
}

/** How many messages DISPATCH holds on each subject (no consumer involved: it's a workqueue). */
export async function countsBySubject(
  jsm: JetStreamManager,
  stream: string,
): Promise<Record<string, number>> {
  const info = await jsm.streams.info(stream, { subjects_filter: ">" });
  return info.state.subjects ?? {};
}

/** The newest message on a subject, decoded the way delivery decodes it. */
export async function lastTaskOn(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<StoredTask> {
  const msg = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (msg === null) throw new Error(`no message on ${subject}`);
  return { subject: msg.subject, meta: decodeTask(msg.header), body: msg.string() };
}
