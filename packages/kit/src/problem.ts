import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** RFC 9457 problem details, with a stable machine-readable `code` and the request id. */
export interface Problem {
  status: ContentfulStatusCode;
  code: string;
  title: string;
  detail?: string;
  errors?: { path: string; message: string }[];
  /** RFC 9457 extension members, e.g. the ids a client should resend; never standard names. */
  extensions?: Record<string, unknown>;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemResponse(c: Context, problem: Problem, headers?: Record<string, string>) {
  const requestId = c.get("requestId" as never) as string | undefined;
  const body = {
    type: `https://hookline.dev/problems/${problem.code}`,
    title: problem.title,
    status: problem.status,
    code: problem.code,
    ...(problem.detail === undefined ? {} : { detail: problem.detail }),
    ...(problem.errors === undefined ? {} : { errors: problem.errors }),
    ...problem.extensions,
    instance: c.req.path,
    requestId,
  };
  return c.body(JSON.stringify(body), problem.status, {
    "content-type": PROBLEM_CONTENT_TYPE,
    ...headers,
  });
}

/** A 400 for a `cursor` that is not from a previous page of this list. */
export function invalidCursorProblem(c: Context) {
  return problemResponse(c, {
    status: 400,
    code: "invalid_cursor",
    title: "Invalid query",
    detail: "cursor: not a cursor from a previous page",
    errors: [{ path: "cursor", message: "not a cursor from a previous page" }],
  });
}

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
}

/** A 400 naming each invalid field, for zod validation failures. */
export function validationProblem(c: Context, target: string, issues: readonly ZodLikeIssue[]) {
  const errors = issues.map((issue) => ({
    path: issue.path.length > 0 ? issue.path.map(String).join(".") : target,
    message: issue.message,
  }));
  const detail = errors.map((error) => `${error.path}: ${error.message}`).join("; ");
  return problemResponse(c, {
    status: 400,
    code: "invalid_request",
    title: `Invalid ${target}`,
    detail,
    errors,
  });
}
