import type { Migration } from "kysely";
import { createDeadLetters } from "./0001-dead-letters";
import { addTenantId } from "./0002-tenant-id";
import { createAttemptLog } from "./0003-attempt-log";
import { indexDeadLettersByEvent } from "./0004-dead-letters-event-idx";
import { moveBodiesIntoAttempts } from "./0005-attempt-body-inline";
import { narrowEndpointIndex } from "./0006-attempts-endpoint-idx";

/**
 * Every migration, imported statically so tsx and bundlers see them (no directory scan). Kysely
 * runs them in key order: keep the numeric prefix.
 */
export const migrations: Record<string, Migration> = {
  "0001-dead-letters": createDeadLetters,
  "0002-tenant-id": addTenantId,
  "0003-attempt-log": createAttemptLog,
  "0004-dead-letters-event-idx": indexDeadLettersByEvent,
  "0005-attempt-body-inline": moveBodiesIntoAttempts,
  "0006-attempts-endpoint-idx": narrowEndpointIndex,
};
