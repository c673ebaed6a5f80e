import { createRoute } from "@hono/zod-openapi";
import { type IngestScope, PROBLEM_CONTENT_TYPE, problemResponse } from "@hookline/kit";
import { systemHealthSchema } from "../http/operation-schemas";
import { problemRef, serviceUnavailable } from "../http/problems";
import type { SystemHealthReader } from "../operations/system-health";
import { type RegisterRoute, UNBOUND_TOKEN_ONLY } from "./registration";

export const getSystemHealthRoute = createRoute({
  method: "get",
  path: "/v1/system/health",
  tags: ["system"],
  "x-required-scopes": ["system:read"] satisfies IngestScope[],
  [UNBOUND_TOKEN_ONLY]: true,
  summary: "Every service instance seen over NATS, and the state of the streams",
  description:
    "Finds every instance of ingest, delivery, classifier and dlq (NATS micro services " +
    "discovery) and asks each for its readiness (its /readyz checks), version and uptime; reads " +
    "every stream's state and limits. 200 when every service has a ready instance and every " +
    "stream exists; otherwise 503, naming in `notReady` what is not. Not for tokens bound to a " +
    "tenant (403 `tenant_bound_token`).",
  responses: {
    200: {
      description: "Everything is ready",
      content: { "application/json": { schema: systemHealthSchema } },
    },
    401: problemRef.Unauthorized,
    503: {
      description:
        "Something is not ready (`code` `system_not_ready`: the problem carries the whole report, " +
        "`notReady` naming each part), or NATS is unavailable (`code` `unavailable`).",
      content: {
        [PROBLEM_CONTENT_TYPE]: {
          schema: {
            allOf: [
              { $ref: "#/components/schemas/Problem" },
              { $ref: "#/components/schemas/SystemHealth" },
            ],
          },
        },
      },
    },
  },
});

export function registerGetSystemHealth(
  register: RegisterRoute,
  deps: { systemHealth: SystemHealthReader },
) {
  register(getSystemHealthRoute, async (c) => {
    const result = await deps.systemHealth.read();
    if (result.outcome === "unavailable") {
      return serviceUnavailable(c, "NATS is unavailable: services and streams cannot be read");
    }
    const { report } = result;
    if (report.ready) return c.json(report, 200);
    return problemResponse(c, {
      status: 503,
      code: "system_not_ready",
      title: "System not ready",
      detail: `not ready: ${report.notReady.join("; ")}`,
      extensions: { ...report },
    });
  });
}
