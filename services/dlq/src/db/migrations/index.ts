import type { Migration } from "kysely";
import { createDeadLetters } from "./0001-dead-letters";

/**
 * Every migration, imported statically so tsx and bundlers see them (no directory scan). Kysely
 * runs them in key order: keep the numeric prefix.
 */
export const migrations: Record<string, Migration> = {
  "0001-dead-letters": createDeadLetters,
};
