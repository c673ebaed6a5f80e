import { ensureTenantBucket, hooklineNames, provision } from "@hookline/contracts";
import {
  commonEnvShape,
  connectNats,
  createLogger,
  loadEnvOrExit,
  provisionOptionsFromEnv,
} from "@hookline/kit";
import { jetstreamManager } from "@nats-io/jetstream";
import { classifierEnvShape } from "./config";
import { ensureTierConsumers } from "./tiers/tier-consumers";

const TOOL = "hookline-provision";

/**
 * `pnpm --filter @hookline/classifier provision` (`node dist/provision.js` in the classifier's
 * image): creates or updates every stream, shared durable, the endpoint and tenants buckets and
 * the retry tiers' consumers once, with a NATS user allowed to (the provisioner), then exits:
 * 0 done, 78 bad env, 1 failure. The services, run with HOOKLINE_PROVISION=verify, wait for it.
 * It lives with the classifier because the tiers (RETRY_TIERS) are parsed there; it reads the
 * same variables the services read, so it must be given the same values.
 */
async function main(): Promise<void> {
  const env = loadEnvOrExit(TOOL, {
    ...commonEnvShape,
    RETRY_TIERS: classifierEnvShape.RETRY_TIERS,
    RETRY_TIER_MAX_ACK_PENDING: classifierEnvShape.RETRY_TIER_MAX_ACK_PENDING,
  });
  const logger = createLogger({ service: TOOL, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  const names = hooklineNames(env.HOOKLINE_PREFIX);
  const link = await connectNats({ url: env.NATS_URL, auth: env, name: TOOL, logger });
  try {
    const jsm = await jetstreamManager(link.nc);
    await provision(link.nc, jsm, provisionOptionsFromEnv(env, names));
    await ensureTierConsumers(jsm, names, env.RETRY_TIERS, env.RETRY_TIER_MAX_ACK_PENDING);
    await ensureTenantBucket(link.nc, names, env.JETSTREAM_REPLICAS);
    logger.info(
      { prefix: names.prefix, tiers: env.RETRY_TIERS.map((tier) => tier.name) },
      "jetstream provisioned",
    );
  } finally {
    await link.nc.drain();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${TOOL}: ${String(error)}\n`);
  process.exit(1);
});
