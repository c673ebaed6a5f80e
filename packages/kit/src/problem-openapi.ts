import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "hono";
import { PROBLEM_CONTENT_TYPE } from "./problem";

/** How the reference shows a problem body, in the words of the service's own API. */
export interface ProblemExample {
  title: string;
  detail: string;
  instance: string;
}

/** The RFC 9457 body every error answer carries (problemResponse writes it). */
export function problemSchema(example: ProblemExample) {
  return z
    .object({
      type: z.string().openapi({ example: "https://hookline.dev/problems/invalid_request" }),
      title: z.string().openapi({ example: example.title }),
      status: z.number().int().openapi({ example: 400 }),
      code: z.string().openapi({ example: "invalid_request" }),
      detail: z.string().optional().openapi({ example: example.detail }),
      errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      instance: z.string().openapi({ example: example.instance }),
      requestId: z.string().optional(),
    })
    .openapi("Problem");
}

export interface ProblemResponses<K extends string> {
  /** For a route's `responses`, e.g. `404: refs.NotFound`. */
  refs: Record<K, { $ref: string }>;
  /** Adds the Problem schema and one response component per kind to the app's document. */
  register<E extends Env>(app: OpenAPIHono<E>): void;
}

/**
 * Error answers as shared response components (kind → description), referenced by each route.
 * A reference (rather than inline content) also lets handlers return problemResponse, a plain
 * Response.
 */
export function problemResponses<K extends string>(
  kinds: Record<K, string>,
  example: ProblemExample,
): ProblemResponses<K> {
  const names = Object.keys(kinds) as K[];
  return {
    refs: Object.fromEntries(
      names.map((kind) => [kind, { $ref: `#/components/responses/${kind}` }]),
    ) as Record<K, { $ref: string }>,
    register(app) {
      app.openAPIRegistry.register("Problem", problemSchema(example));
      for (const kind of names) {
        app.openAPIRegistry.registerComponent("responses", kind, {
          description: kinds[kind],
          content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } },
        });
      }
    },
  };
}
