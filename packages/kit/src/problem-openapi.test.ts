import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { problemResponses } from "./problem-openapi";

describe("problemResponses", () => {
  it("registers the Problem schema and one problem+json response per kind", () => {
    const problems = problemResponses(
      { NotFound: "No such thing.", Unavailable: "Retry later." },
      { title: "Invalid query", detail: "q: Required", instance: "/v1/things" },
    );
    expect(problems.refs).toEqual({
      NotFound: { $ref: "#/components/responses/NotFound" },
      Unavailable: { $ref: "#/components/responses/Unavailable" },
    });
    const app = new OpenAPIHono();
    problems.register(app);
    const doc = app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
    expect(doc.components?.responses?.NotFound).toEqual({
      description: "No such thing.",
      content: {
        "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
      },
    });
    expect(doc.components?.schemas?.Problem).toMatchObject({
      properties: { title: { example: "Invalid query" }, instance: { example: "/v1/things" } },
    });
  });
});
