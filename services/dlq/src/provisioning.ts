import { type ProvisionOptions, provision } from "@hookline/contracts";
import type { Logger } from "@hookline/kit";
import { jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/**
 * Provisions streams, consumers and the endpoint bucket, retrying with backoff: JetStream may
 * still be starting or recovering when the connection is already up.
 */
export async function provisionUntilDone(
  nc: NatsConnection,
  options: ProvisionOptions,
  logger: Logger,
): Promise<{ endpoints: KV }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc);
      const provisioned = await provision(nc, jsm, options);
      logger.info({ attempt }, "jetstream provisioned");
      return provisioned;
    } catch (error) {
      const delayMs = Math.min(FIRST_DELAY_MS * 2 ** (attempt - 1), MAX_DELAY_MS);
      logger.warn({ err: error, attempt, delayMs }, "provisioning failed; retrying");
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
