import { Header, type HooklineNames } from "@hookline/contracts";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { ServiceMetrics } from "./metrics";

/**
 * A message a consumer cannot decode is published raw to `deadletter.invalid`, keeping its
 * bytes and headers, and only then acked: nothing is dropped in silence.
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
  const h = natsHeaders();
  for (const [key, values] of msg.headers ?? []) {
    for (const value of values) h.append(key, value);
  }
  h.set(Header.reason, "invalid_message");
  h.set(Header.error, options.error.replace(/[\r\n]+/g, " ").slice(0, 200));
  h.set("Hookline-Original-Subject", msg.subject);
  h.set(Header.msgId, `invalid:${msg.info.stream}:${msg.seq}`);
  await options.js.publish(options.names.subjects.deadletterInvalid, msg.data, { headers: h });
  options.metrics.invalidMessages.inc({ consumer: options.consumer });
  msg.ack();
}
