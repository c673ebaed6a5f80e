import type { Logger } from "@hookline/kit";
import { type Kysely, type MigrationResult, Migrator } from "kysely";
import { migrations } from "./migrations";
import type { Database } from "./schema";

export type MigrateOutcome =
  | { outcome: "migrated"; applied: string[] }
  | { outcome: "failed"; error: unknown; applied: string[] };

function applied(results: MigrationResult[] | undefined): string[] {
  return (results ?? [])
    .filter((result) => result.status === "Success")
    .map((result) => result.migrationName);
}

/** Applies every pending migration; Kysely's lock table keeps concurrent instances in turn. */
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrateOutcome> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) return { outcome: "failed", error, applied: applied(results) };
  return { outcome: "migrated", applied: applied(results) };
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/**
 * Migrates at start-up, retrying with backoff: the database may start after the service. A
 * migration that fails for good keeps failing here, visibly, with /readyz at 503.
 */
export async function migrateUntilDone(
  db: Kysely<Database>,
  logger: Logger,
  isStopping: () => boolean = () => false,
): Promise<boolean> {
  for (let attempt = 1; !isStopping(); attempt++) {
    const result = await migrateToLatest(db);
    if (result.outcome === "migrated") {
      logger.info({ attempt, applied: result.applied }, "database migrated");
      return true;
    }
    const delayMs = Math.min(FIRST_DELAY_MS * 2 ** (attempt - 1), MAX_DELAY_MS);
    logger.warn({ err: result.error, attempt, delayMs }, "migrating the database failed; retrying");
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  return false;
}
