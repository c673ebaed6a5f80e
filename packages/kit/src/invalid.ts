import { Header, type HooklineNames, headerSafe } from "@hookline/contracts";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import type { ServiceMetrics } from "./metrics";

/** A message as it was read: consumed (JsMsg) or fetched by sequence (StoredMsg). */
export interface RawMessage {
  subject: string;
  stream: string;
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

/**
 * Publishes a message that cannot be decoded raw to `deadletter.invalid`, keeping its bytes and
 * headers, with reason `invalid_message` and why. Deduped by its stream and sequence.
 */
export async function publishInvalid(options: {
  js: JetStreamClient;
  names: HooklineNames;
  raw: RawMessage;
  error: string;
}): Promise<void> {
  const { raw } = options;
  const h = natsHeaders();
  for (const [key, values] of raw.headers ?? []) {
    for (const value of values) h.append(key, value);
  }
  h.set(Header.reason, "invalid_message");
  h.set(Header.error, headerSafe(options.error));
  h.set("Hookline-Original-Subject", raw.subject);
  h.set(Header.msgId, `invalid:${raw.stream}:${raw.seq}`);
  await options.js.publish(options.names.subjects.deadletterInvalid, raw.data, { headers: h });
}

/**
 * A message a consumer cannot decode is published raw to `deadletter.invalid` and only then
 * acked: nothing is dropped in silence.
 */
export async function deadLetterInvalid(options: {
  js: JetStreamClient;
  names: HooklineNames;
  metrics: ServiceMetrics;
  consumer: string;
  msg: JsMsg;
  error: string;
}): Promise<void> {
  const { msg } = options;
  await publishInvalid({
    js: options.js,
    names: options.names,
    raw: {
      subject: msg.subject,
      stream: msg.info.stream,
      seq: msg.seq,
      data: msg.data,
      headers: msg.headers,
    },
    error: options.error,
  });
  options.metrics.invalidMessages.inc({ consumer: options.consumer });
  msg.ack();
}
