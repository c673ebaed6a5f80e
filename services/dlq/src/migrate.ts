import { createLogger, loadEnvOrExit } from "@hookline/kit";
import { z } from "zod";
import { connectDatabase } from "./db/connection";
import { migrateToLatest } from "./db/migrate";

/** `pnpm --filter @hookline/dlq migrate`: applies pending migrations once, then exits. */
async function main(): Promise<void> {
  const env = loadEnvOrExit("dlq-migrate", { DATABASE_URL: z.string().min(1) });
  const logger = createLogger({ service: "dlq-migrate", level: "info", pretty: false });
  const database = connectDatabase({ url: env.DATABASE_URL, poolSize: 1, logger });
  try {
    const result = await migrateToLatest(database.db);
    if (result.outcome === "failed") {
      process.stderr.write(`dlq-migrate: migration failed: ${String(result.error)}\n`);
      process.exitCode = 1;
      return;
    }
    const applied = result.applied.length === 0 ? "nothing to apply" : result.applied.join(", ");
    process.stdout.write(`dlq-migrate: up to date (${applied})\n`);
  } finally {
    await database.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`dlq-migrate: ${String(error)}\n`);
  process.exit(1);
});
