import type { OpenAPIHono } from "@hono/zod-openapi";
import {
  type ApiToken,
  bearerAuth,
  createServiceApp,
  type KitEnv,
  type Logger,
  mountApiDocs,
  type ReadinessChecks,
  type ServiceMetrics,
} from "@hookline/kit";
import type { Kysely } from "kysely";
import type { Database } from "./db/schema";
import type { PageCursors } from "./http/page-cursors";
import { registerProblemComponents, serviceUnavailable } from "./http/problems";
import type { LetterReplayer } from "./letters/replay";
import type { LetterSettler } from "./letters/settle";
import type { QueueStatsReader } from "./queue-stats/queue-stats";
import type { EventRetrier } from "./retry-now/retry-now";
import { registerDiscardDeadLetter } from "./routes/discard-dead-letter";
import { registerGetDeadLetter } from "./routes/get-dead-letter";
import { registerGetDeadLetterAudit } from "./routes/get-dead-letter-audit";
import { registerGetDeadLetterStats } from "./routes/get-dead-letter-stats";
import { registerGetDeliveryStats } from "./routes/get-delivery-stats";
import { registerGetEvent } from "./routes/get-event";
import { registerGetQueues } from "./routes/get-queues";
import { registerListAttempts } from "./routes/list-attempts";
import { registerListDeadLetters } from "./routes/list-dead-letters";
import { registerListEventAttempts } from "./routes/list-event-attempts";
import { registerRoutes } from "./routes/registration";
import { registerReplayDeadLetter } from "./routes/replay-dead-letter";
import { registerReplayDeadLetters } from "./routes/replay-dead-letters";
import { registerResolveDeadLetter } from "./routes/resolve-dead-letter";
import { registerResolveDeadLetters } from "./routes/resolve-dead-letters";
import { registerRetryEvent } from "./routes/retry-event";

export type DlqApp = OpenAPIHono<KitEnv>;

export interface DlqAppDeps {
  logger: Logger;
  metrics: ServiceMetrics;
  readiness: ReadinessChecks;
  tokens: readonly ApiToken[];
  /** DLQ_MAX_BODY_BYTES: the body limit of every route. */
  maxBodyBytes: number;
  db: Kysely<Database>;
  /** Signs and opens the page cursors of every list. */
  cursors: PageCursors;
  replayer: LetterReplayer;
  settler: LetterSettler;
  /** GET /v1/queues: JetStream's figures (stream, consumer and subject info). */
  queues: QueueStatsReader;
  /** POST /v1/events/{eventId}/retry: sends an event's waiting retries now. */
  retrier: EventRetrier;
}

export const apiInfo = {
  title: "Hookline DLQ",
  version: "0.1.0",
  description:
    "Dead letters, the attempt log and queue state. Dead letters are webhooks that could not " +
    "be delivered: list, inspect, replay, resolve and discard them. The attempt log keeps one " +
    "row per attempt (`/v1/attempts`, `/v1/events/{eventId}…`) for ATTEMPT_RETENTION_DAYS, with " +
    "delivery stats over it (`/v1/stats`); `/v1/queues` reads JetStream's own stream and " +
    "consumer state. Every /v1 call takes `Authorization: Bearer <token>`; the token's name is " +
    "recorded as the actor. Each route names the scopes it requires (`x-required-scopes`): " +
    "`deadletters:read`, `deadletters:write`, `attempts:read` or `queues:read`; a token without " +
    "one gets 403. A token bound to a tenant sees only that tenant's letters, attempts, events " +
    "and backlogs: another tenant's letter is a 404 as a missing one, and a filter naming another " +
    "tenant a 404 as an unknown tenant. Errors are application/problem+json. Bodies are limited " +
    "by DLQ_MAX_BODY_BYTES (64 KiB by default), decided from Content-Length (413).",
};

const bodyLimit = (maxBytes: number) => ({ maxBytes, setting: "DLQ_MAX_BODY_BYTES" });

export function createDlqApp(deps: DlqAppDeps): DlqApp {
  const app = createServiceApp<KitEnv>({
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: deps.readiness,
    bodyLimit: bodyLimit(deps.maxBodyBytes),
  });
  registerProblemComponents(app);
  mountApiDocs(app, apiInfo);
  app.use("/v1/*", bearerAuth(deps.tokens));

  const register = registerRoutes(app, deps);
  registerListDeadLetters(register, deps);
  // Before /{id}, which would otherwise take "stats" for an id.
  registerGetDeadLetterStats(register, deps);
  registerGetDeadLetter(register, deps);
  registerGetDeadLetterAudit(register, deps);
  registerReplayDeadLetter(register, deps);
  registerResolveDeadLetter(register, deps);
  registerDiscardDeadLetter(register, deps);
  registerReplayDeadLetters(register, deps);
  registerResolveDeadLetters(register, deps);
  registerGetDeliveryStats(register, deps);
  registerGetQueues(register, deps);
  registerListAttempts(register, deps);
  registerListEventAttempts(register, deps);
  registerGetEvent(register, deps);
  registerRetryEvent(register, deps);
  return app;
}

/**
 * What the port serves until NATS and Postgres are ready: health, readiness and metrics answer,
 * and the API says 503 so clients retry.
 */
export function createStartingApp(
  deps: Pick<DlqAppDeps, "logger" | "metrics" | "readiness" | "maxBodyBytes">,
) {
  const app = createServiceApp<KitEnv>({ ...deps, bodyLimit: bodyLimit(deps.maxBodyBytes) });
  app.all("/v1/*", (c) => serviceUnavailable(c, "starting"));
  return app;
}
