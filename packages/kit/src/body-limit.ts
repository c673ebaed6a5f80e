import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit as streamedBodyLimit } from "hono/body-limit";
import { problemResponse } from "./problem";

/** The largest request body a route takes, and the setting that raises it (named in the 413). */
export interface BodyLimit {
  maxBytes: number;
  setting?: string;
}

/** One limit for every route, or a limit chosen by request path. */
export type BodyLimitRule = BodyLimit | ((path: string) => BodyLimit);

/** What an app takes when its service sets no limit: health, readiness and metrics take no body. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export function payloadTooLarge(c: Context, detail: string) {
  return problemResponse(c, {
    status: 413,
    code: "payload_too_large",
    title: "Payload too large",
    detail,
  });
}

const DIGITS = /^\d+$/;

/**
 * Answers 413 for a body over the limit without waiting for it. A Content-Length (with no
 * Transfer-Encoding) decides before a byte of the body is read: the HTTP parser holds the body to
 * that length. Otherwise, as for chunked bodies, reading stops at the first byte over the limit.
 * After a 413, @hono/node-server drains briefly and then closes the connection.
 */
export function bodyLimitMiddleware(rule: BodyLimitRule): MiddlewareHandler {
  const limitFor = typeof rule === "function" ? rule : () => rule;
  const tooLarge = (c: Context, limit: BodyLimit) => {
    const setting = limit.setting === undefined ? "" : ` (${limit.setting})`;
    return payloadTooLarge(c, `the request body is larger than ${limit.maxBytes} bytes${setting}`);
  };
  const counting = new Map<string, MiddlewareHandler>();
  const countingFor = (limit: BodyLimit) => {
    const key = `${limit.maxBytes} ${limit.setting ?? ""}`;
    let middleware = counting.get(key);
    if (middleware === undefined) {
      middleware = streamedBodyLimit({
        maxSize: limit.maxBytes,
        onError: (c) => tooLarge(c, limit),
      });
      counting.set(key, middleware);
    }
    return middleware;
  };
  return (c, next) => {
    const limit = limitFor(c.req.path);
    if (c.req.header("transfer-encoding") === undefined) {
      const length = c.req.header("content-length");
      // Checking the header alone also keeps @hono/node-server from building a full web
      // Request, which touching `raw.body` would (about 10% of ingest's CPU per event).
      if (length !== undefined && DIGITS.test(length)) {
        return Number(length) > limit.maxBytes ? Promise.resolve(tooLarge(c, limit)) : next();
      }
      // Neither header: no body on the wire (web Requests never give GET or HEAD one).
      if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    }
    return countingFor(limit)(c, next);
  };
}
