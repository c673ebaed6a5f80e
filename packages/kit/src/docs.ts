import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";

/** Serves the OpenAPI document at /openapi.json and a rendered reference at /docs. */
export function mountApiDocs<E extends Env>(
  app: OpenAPIHono<E>,
  info: { title: string; version: string; description: string },
): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  app.doc31("/openapi.json", { openapi: "3.1.0", info, security: [{ bearer: [] }] });
  app.get("/docs", swaggerUI({ url: "/openapi.json", title: info.title }));
}
