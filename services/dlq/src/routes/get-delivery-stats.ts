import { createRoute, z } from "@hono/zod-openapi";
import { endpointIdSchema, eventTypeSchema, tenantIdSchema } from "@hookline/contracts";
import { type DlqScope, grantOf } from "@hookline/kit";
import type { Kysely } from "kysely";
import { unlessDatabaseDown } from "../db/outage";
import type { Database } from "../db/schema";
import {
  DEFAULT_STATS_WINDOW,
  type DeliveryStats,
  deliveryStats,
  statsWindows,
  TOP_FAILING_ENDPOINTS,
} from "../delivery-stats/delivery-stats";
import { problemRef, serviceUnavailable } from "../http/problems";
import type { RegisterRoute } from "./registration";

const exampleEndpoint = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E";
const exampleTime = "2025-01-01T12:00:00.000Z";
const counts = z.record(z.string(), z.number().int());
const rate = z.number().min(0).max(1).nullable();
const percentile = z.number().int().nullable();

const deliveryStatsSchema = z
  .object({
    window: z.enum(statsWindows).openapi({ example: "24h" }),
    from: z.string().openapi({
      example: "2024-12-31T12:00:00.000Z",
      description: "The window's start (inclusive): generatedAt minus the window",
    }),
    to: z.string().openapi({ example: exampleTime, description: "The window's end (exclusive)" }),
    generatedAt: z.string().openapi({ example: exampleTime, description: "When this was counted" }),
    attempts: z
      .number()
      .int()
      .openapi({
        example: 1200,
        description:
          "Rows of the attempt log in the window: every attempt, and every pass that sent no " +
          "request (results such as endpoint_missing or circuit_open; see byResult)",
      }),
    delivered: z
      .number()
      .int()
      .openapi({ example: 1100, description: "Rows whose result is delivered" }),
    failedAttempts: z
      .number()
      .int()
      .openapi({ example: 100, description: "Rows whose result is not delivered" }),
    deadLettered: z
      .number()
      .int()
      .openapi({
        example: 3,
        description:
          "Dead letters whose deadAt is in the window, with the same filters (a letter that " +
          "died again counts at its latest death)",
      }),
    firstAttemptSuccessRate: rate.openapi({
      example: 0.95,
      description:
        "Delivered rows with attempt = 1 divided by rows with attempt = 1 (a task's or a " +
        "replay's first attempt); null when there are none",
    }),
    averageAttemptsPerDelivered: z
      .number()
      .nullable()
      .openapi({
        example: 1.08,
        description:
          "The mean `attempt` of delivered rows: how many attempts a delivered task took, 1 when " +
          "every one succeeded at once; null when nothing was delivered",
      }),
    retryRate: rate.openapi({
      example: 0.07,
      description: "Rows with attempt > 1 divided by all rows; null when there are none",
    }),
    latencyMs: z.object({ p50: percentile, p95: percentile, p99: percentile }).openapi({
      example: { p50: 120, p95: 480, p99: 950 },
      description:
        "Percentiles of delivered rows' durationMs (the request's duration), as observed " +
        "values (percentile_disc: the smallest duration at or above that share of them); " +
        "null when nothing was delivered",
    }),
    byResult: counts.openapi({
      example: { delivered: 1100, http_error: 80, timeout: 20 },
      description: "Rows by result; every known result is listed (0 when none)",
    }),
    byStatusClass: counts.openapi({
      example: { "1xx": 0, "2xx": 1100, "3xx": 0, "4xx": 30, "5xx": 50, none: 20 },
      description:
        "Rows by the endpoint's HTTP status: 1xx to 5xx, and none for rows without one " +
        "(timeouts, network errors, passes that sent nothing); all six always listed",
    }),
    topFailingEndpoints: z
      .array(
        z.object({
          endpointId: z.string().openapi({ example: exampleEndpoint }),
          failedAttempts: z.number().int().openapi({ example: 60 }),
          attempts: z.number().int().openapi({ example: 75 }),
        }),
      )
      .openapi({
        description:
          `The ${TOP_FAILING_ENDPOINTS} endpoints with the most failed rows (at least one), ` +
          "most first, ties by endpoint id; attempts counts all of the endpoint's rows",
      }),
  })
  .openapi("DeliveryStats");

export const getDeliveryStatsRoute = createRoute({
  method: "get",
  path: "/v1/stats",
  tags: ["attempts"],
  "x-required-scopes": ["attempts:read"] satisfies DlqScope[],
  summary: "Delivery figures over the last hour, day or week",
  description:
    "Counted from the attempt log (one row per attempt; successes and classified failures) " +
    "over the window that ends now, with the optional filters, and from the dead letters for " +
    "deadLettered. A token bound to a tenant counts only its tenant's rows; naming another " +
    "tenant is a 404 as an unknown tenant. Attempts older than ATTEMPT_RETENTION_DAYS are gone " +
    "from the log, and a log that is behind (or off: ATTEMPT_LOG=false) counts less than was sent.",
  request: {
    query: z.object({
      tenantId: tenantIdSchema.optional().meta({ example: "acme" }),
      endpointId: endpointIdSchema.optional().meta({ example: exampleEndpoint }),
      eventType: eventTypeSchema.optional().meta({ example: "order.created" }),
      window: z
        .enum(statsWindows)
        .default(DEFAULT_STATS_WINDOW)
        .openapi({
          example: "24h",
          description: `1h, 24h or 7d; ${DEFAULT_STATS_WINDOW} by default`,
        }),
    }),
  },
  responses: {
    200: {
      description: "Figures",
      content: { "application/json": { schema: deliveryStatsSchema } },
    },
    400: problemRef.BadRequest,
    401: problemRef.Unauthorized,
    404: problemRef.TenantNotFound,
    503: problemRef.Unavailable,
  },
});

type PublicDeliveryStats = z.infer<typeof deliveryStatsSchema>;

function publicStats(stats: DeliveryStats): PublicDeliveryStats {
  const { from, to, ...figures } = stats;
  return {
    ...figures,
    from: from.toISOString(),
    to: to.toISOString(),
    generatedAt: to.toISOString(),
  };
}

export function registerGetDeliveryStats(
  register: RegisterRoute,
  deps: { db: Kysely<Database>; now?: () => number },
) {
  const clock = deps.now ?? Date.now;
  register(getDeliveryStatsRoute, async (c) => {
    const query = c.req.valid("query");
    const stats = await unlessDatabaseDown(() =>
      deliveryStats(deps.db, {
        ...query,
        // A bound token's tenant, whatever the query says (registration refused another).
        tenantId: grantOf(c).tenantId ?? query.tenantId,
        now: new Date(clock()),
      }),
    );
    if ("outcome" in stats) return serviceUnavailable(c, stats.dependency);
    return c.json(publicStats(stats), 200);
  });
}
