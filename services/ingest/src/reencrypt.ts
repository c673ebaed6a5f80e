import { hooklineNames } from "@hookline/contracts";
import {
  commonEnvShape,
  connectNats,
  createLogger,
  createSecretBox,
  encryptionKeysEnv,
  loadEnvOrExit,
} from "@hookline/kit";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { reencryptEndpoints } from "./endpoints/reencrypt";

const TOOL = "ingest-reencrypt";

/**
 * `pnpm --filter @hookline/ingest reencrypt` (`node dist/reencrypt.js` in the image): seals every
 * endpoint's secrets and header values under the first key of HOOKLINE_ENCRYPTION_KEYS, then
 * exits; 1 when a record could not be re-encrypted (the log names it).
 */
async function main(): Promise<void> {
  const env = loadEnvOrExit(TOOL, {
    ...commonEnvShape,
    HOOKLINE_ENCRYPTION_KEYS: encryptionKeysEnv,
  });
  const logger = createLogger({ service: TOOL, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY });
  const box = createSecretBox(env.HOOKLINE_ENCRYPTION_KEYS);
  const link = await connectNats({ url: env.NATS_URL, auth: env, name: TOOL, logger });
  try {
    // Opened, not created: the services provision the bucket; a missing one is a wrong prefix.
    const bucket = hooklineNames(env.HOOKLINE_PREFIX).kv.endpoints;
    const kv = await new Kvm(link.nc).open(bucket);
    await kv.status().catch((error: unknown) => {
      throw new Error(`no bucket ${bucket} (HOOKLINE_PREFIX ${env.HOOKLINE_PREFIX}): ${error}`);
    });
    const js = jetstream(link.nc);
    const report = await reencryptEndpoints({ kv, bucket, js, box, logger });
    logger.info(report, "re-encryption done");
    process.stdout.write(
      `${TOOL}: ${report.records} endpoints: ${report.resealed} re-encrypted ` +
        `(${report.values} values) under "${report.kid}", ${report.unchanged} already under it, ` +
        `${report.failed} failed\n`,
    );
    if (report.failed > 0) process.exitCode = 1;
  } finally {
    await link.nc.drain();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${TOOL}: ${String(error)}\n`);
  process.exit(1);
});
