import { connect, createInbox, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ConfigError } from "./config";
import { type NatsAuthEnv, natsAuthOptions } from "./nats-auth";

export interface NatsLink {
  nc: NatsConnection;
  /** True while the client holds a live connection; readiness follows it. */
  isConnected(): boolean;
}

/**
 * Connects and keeps reconnecting forever: a NATS restart is an outage to ride out, not a
 * reason to exit. Waits for the first connection so start-up survives NATS starting later.
 * `auth` is the service's env (kit's natsAuthEnvShape): credentials, TLS and the inbox prefix;
 * a file it names that can't be read throws a ConfigError naming the variable.
 */
export async function connectNats(options: {
  url: string;
  name: string;
  logger: Logger;
  auth?: NatsAuthEnv;
}): Promise<NatsLink> {
  const { logger } = options;
  const auth = natsAuthOptions(options.auth ?? {});
  if (auth.outcome === "invalid") throw new ConfigError(auth.problems);
  const nc = await connect({
    ...auth.options,
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
  // Which way it authenticated, never with what.
  logger.info(
    { url: withoutCredentials(options.url), auth: authMethod(options.auth ?? {}) },
    "nats connected",
  );
  return { nc, isConnected: () => connected && !nc.isClosed() };
}

function authMethod(env: NatsAuthEnv): string {
  if (env.NATS_CREDS) return "creds";
  if (env.NATS_NKEY_SEED) return "nkey";
  if (env.NATS_USER) return `user ${env.NATS_USER}`;
  if (env.NATS_TOKEN) return "token";
  return "none";
}

/**
 * A new reply inbox under the connection's inbox prefix (NATS_INBOX_PREFIX), for code that
 * subscribes to its own inboxes: nats.js's createInbox() alone always uses `_INBOX`, which a
 * server's per-user permissions may refuse.
 */
export function connectionInbox(nc: NatsConnection): string {
  // nats.js keeps its options on the connection; its public type does not show them.
  const options = (nc as unknown as { options?: { inboxPrefix?: string } }).options;
  return createInbox(options?.inboxPrefix ?? "");
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
