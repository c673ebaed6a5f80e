import {
  createHeaderBlockPublisher,
  type HeaderBlockPublisher,
  jetStreamBlockPublisher,
} from "@hookline/kit";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * The classifier's publisher for retries (scheduled and released): kit's header-block publisher
 * on the client's connection, with the timeout of `js` (its `timeout` option, 5 s by default).
 * The handlers get only `js`; a client that is not nats.js's own (no `nc`, as in some tests)
 * publishes through `js.publish`.
 */
export function createBlockPublisher(js: JetStreamClient): HeaderBlockPublisher {
  const nc = (js as unknown as { nc?: NatsConnection }).nc;
  if (nc === undefined || typeof nc.publish !== "function") return jetStreamBlockPublisher(js);
  const configured = (js as { getOptions?: () => { timeout?: number } }).getOptions?.().timeout;
  const timeoutMs = configured !== undefined && configured > 0 ? configured : DEFAULT_TIMEOUT_MS;
  return createHeaderBlockPublisher(nc, timeoutMs);
}
