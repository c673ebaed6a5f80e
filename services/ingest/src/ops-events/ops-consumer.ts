import { decodeOpsEvent, type HooklineNames } from "@hookline/contracts";
import {
  type ConsumerPump,
  deadLetterInvalid,
  type Logger,
  type ServiceMetrics,
  startConsumerPump,
} from "@hookline/kit";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { EventPublisher, PublishEventOutcome } from "../events/publisher";
import { type OpsLinkBases, opsWebhookEvent } from "./ops-webhook";

export interface OpsEventConsumerOptions {
  js: JetStreamClient;
  names: HooklineNames;
  events: Pick<EventPublisher, "publish">;
  links: OpsLinkBases;
  systemTenantId: string;
  metrics: ServiceMetrics;
  logger: Logger;
}

/** Published again after this while NATS or DISPATCH can't take the event's tasks. */
const UNAVAILABLE_NAK_MS = 5_000;

/** What to do with an OPS message once its event was published (or not). */
export type OpsMessageAction =
  | { action: "ack" }
  | { action: "retry" }
  | { action: "invalid"; error: string };

export function actionOf(outcome: PublishEventOutcome): OpsMessageAction {
  switch (outcome.outcome) {
    case "accepted":
    case "duplicate":
      return { action: "ack" };
    case "unavailable":
      return { action: "retry" };
    case "too_large":
      return { action: "invalid", error: `its webhook body is ${outcome.bytes} bytes` };
    case "unserialisable":
      return { action: "invalid", error: outcome.error };
  }
}

/**
 * Makes each operational event a webhook of the system tenant, exactly as POST /v1/events
 * would: the same fan-out to its subscribed endpoints, the same signing downstream. The event id
 * is the operational event's, so a message read again (a crash before the ack) is a duplicate.
 */
export function startOpsEventConsumer(options: OpsEventConsumerOptions): ConsumerPump {
  const { js, names, events, links, systemTenantId, logger } = options;
  const invalid = (msg: JsMsg, error: string) =>
    deadLetterInvalid({
      js,
      names,
      metrics: options.metrics,
      consumer: names.consumers.ingestOps,
      msg,
      error,
    });

  const handle = async (msg: JsMsg) => {
    const decoded = decodeOpsEvent(msg.data);
    if (!decoded.ok) return invalid(msg, decoded.error);
    const { id, eventType, payload } = opsWebhookEvent(decoded.event, links);
    const outcome = await events.publish({ tenantId: systemTenantId, eventType, payload, id });
    const next = actionOf(outcome);
    if (next.action === "ack") {
      msg.ack();
    } else if (next.action === "retry") {
      msg.nak(UNAVAILABLE_NAK_MS);
    } else {
      logger.error({ id, error: next.error }, "operational event could not become a webhook");
      await invalid(msg, next.error);
    }
  };

  return startConsumerPump({
    js,
    stream: names.streams.ops,
    consumer: names.consumers.ingestOps,
    concurrency: 16,
    handle,
    logger,
  });
}
