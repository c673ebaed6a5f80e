import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

export interface NatsLink {
  nc: NatsConnection;
  /** True while the client holds a live connection; readiness follows it. */
  isConnected(): boolean;
}

/**
 * Connects and keeps reconnecting forever: a NATS restart is an outage to ride out, not a
 * reason to exit. Waits for the first connection so start-up survives NATS starting later.
 */
export async function connectNats(options: {
  url: string;
  name: string;
  logger: Logger;
}): Promise<NatsLink> {
  const { logger } = options;
  const nc = await connect({
    servers: options.url.split(","),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 2,
  });
  let connected = true;
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        connected = false;
        logger.warn({ server: status.server }, "nats disconnected");
      } else if (status.type === "reconnect") {
        connected = true;
        logger.info({ server: status.server }, "nats reconnected");
      } else if (status.type === "error") {
        logger.warn({ err: status.error }, "nats error");
      }
    }
  })().catch((error: unknown) => logger.error({ err: error }, "nats status loop failed"));
  nc.closed().then(() => {
    connected = false;
  });
  logger.info({ url: withoutCredentials(options.url) }, "nats connected");
  return { nc, isConnected: () => connected && !nc.isClosed() };
}

/** Servers may carry `user:password@`; logs get the address only. */
export function withoutCredentials(urls: string): string {
  return urls
    .split(",")
    .map((url) => url.replace(/\/\/[^@/]*@/, "//"))
    .join(",");
}

/**
 * For shutdown: drains (pending publishes and acks go out) while connected, else closes. Drain
 * fails without a connection, and there is nothing to drain: unacked work is redelivered.
 */
export async function drainOrClose(link: NatsLink | undefined): Promise<void> {
  if (link === undefined || link.nc.isClosed()) return;
  await (link.isConnected() ? link.nc.drain() : link.nc.close());
}
