import {
  defaultProvisionOptions,
  type HooklineNames,
  type ProvisionOptions,
  provision,
  verifyProvisioned,
} from "@hookline/contracts";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** The env variables every service provisions from (see commonEnvShape). */
export interface ProvisionEnv {
  INGEST_DEDUPE_WINDOW: number;
  DISPATCH_MAX_BYTES: number;
  DISPATCH_RETRY_MAX_BYTES: number;
  RETRY_MAX_BYTES: number;
  OUTCOMES_MAX_BYTES: number;
  DEADLETTER_MAX_BYTES: number;
  ATTEMPTS_MAX_BYTES: number;
  ENDPOINT_BACKLOG_QUOTA: number;
  JETSTREAM_REPLICAS: number;
}

/** Every service applies the same stream settings, so every service builds them the same way. */
export function provisionOptionsFromEnv(env: ProvisionEnv, names: HooklineNames): ProvisionOptions {
  return {
    ...defaultProvisionOptions,
    names,
    dedupeWindowMs: env.INGEST_DEDUPE_WINDOW,
    dispatchMaxBytes: env.DISPATCH_MAX_BYTES,
    dispatchRetryMaxBytes: env.DISPATCH_RETRY_MAX_BYTES,
    retryMaxBytes: env.RETRY_MAX_BYTES,
    outcomesMaxBytes: env.OUTCOMES_MAX_BYTES,
    deadletterMaxBytes: env.DEADLETTER_MAX_BYTES,
    attemptsMaxBytes: env.ATTEMPTS_MAX_BYTES,
    endpointBacklogQuota: env.ENDPOINT_BACKLOG_QUOTA,
    replicas: env.JETSTREAM_REPLICAS,
  };
}

/**
 * HOOKLINE_PROVISION: `apply` creates and updates at start; `verify` only checks, for services
 * whose NATS user may not change stream config (the provision step does, once, beforehand).
 */
export type ProvisionMode = "apply" | "verify";

/**
 * A resource verify mode found missing. Thrown inside the retry loop (also by `after` hooks)
 * so that it is logged as "run the provision step", not as a failure.
 */
export class NotProvisionedError extends Error {
  constructor(readonly resource: string) {
    super(`${resource} does not exist`);
  }
}

export interface Provisioned {
  jsm: JetStreamManager;
  endpoints: KV;
}

export interface ProvisionUntilDoneOptions<T extends object> {
  nc: NatsConnection;
  options: ProvisionOptions;
  /** Absent: apply. */
  mode?: ProvisionMode;
  logger: Logger;
  /** True once shutdown has begun: start-up stops retrying and gets undefined. */
  stopping: () => boolean;
  /**
   * What the service provisions beyond the shared resources; retried together with them. In
   * verify mode it only checks, throwing NotProvisionedError for what is missing.
   */
  after?: (jsm: JetStreamManager, mode: ProvisionMode) => Promise<T>;
}

/**
 * Provisions (apply) or checks (verify) streams, consumers and the endpoint bucket (and
 * `after`), retrying with backoff: JetStream may still be starting or recovering when the
 * connection is already up, and in verify mode the provision step may not have run yet.
 * Undefined when shutdown began first.
 */
export async function provisionUntilDone<T extends object = Record<never, never>>(
  opts: ProvisionUntilDoneOptions<T>,
): Promise<(Provisioned & T) | undefined> {
  const { nc, options, logger, stopping } = opts;
  const mode = opts.mode ?? "apply";
  for (let attempt = 1; !stopping(); attempt++) {
    try {
      const jsm = await jetstreamManager(nc);
      const endpoints = await sharedResources(nc, jsm, options, mode);
      // Without `after`, T is the empty default.
      const more = opts.after === undefined ? ({} as T) : await opts.after(jsm, mode);
      logger.info(
        { attempt, mode },
        mode === "apply" ? "jetstream provisioned" : "jetstream verified",
      );
      return { ...more, jsm, endpoints };
    } catch (error) {
      if (stopping()) break;
      const delayMs = Math.min(FIRST_DELAY_MS * 2 ** (attempt - 1), MAX_DELAY_MS);
      if (error instanceof NotProvisionedError) {
        logger.warn(
          { missing: error.resource, attempt, delayMs },
          `${error.resource} is missing: the provision step must run first ` +
            "(HOOKLINE_PROVISION=verify); retrying",
        );
      } else {
        logger.warn({ err: error, attempt, delayMs }, "provisioning failed; retrying");
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
  return undefined;
}

async function sharedResources(
  nc: NatsConnection,
  jsm: JetStreamManager,
  options: ProvisionOptions,
  mode: ProvisionMode,
): Promise<KV> {
  if (mode === "apply") return (await provision(nc, jsm, options)).endpoints;
  const verified = await verifyProvisioned(nc, jsm, options);
  if (verified.outcome === "missing") throw new NotProvisionedError(verified.resource);
  return verified.endpoints;
}
