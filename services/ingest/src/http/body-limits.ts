import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { payloadTooLarge } from "./problems";

export const BATCH_PATH = "/v1/events/batch";

/** INGEST_MAX_BODY_BYTES for every /v1 body, INGEST_MAX_BATCH_BYTES for batches. */
export function bodyLimits(limits: {
  maxBodyBytes: number;
  maxBatchBytes: number;
}): MiddlewareHandler {
  const limited = (maxSize: number, variable: string): MiddlewareHandler => {
    const tooLarge = (c: Context) =>
      payloadTooLarge(c, `the request body is larger than ${maxSize} bytes (${variable})`);
    const streamed = bodyLimit({ maxSize, onError: tooLarge });
    return (c, next) => {
      // With a Content-Length (and no Transfer-Encoding) the HTTP parser holds the body to that
      // length, so the header decides. Asking hono's bodyLimit would touch `raw.body`, which
      // makes @hono/node-server build a full web Request: ~10% of ingest's CPU per event.
      const length = c.req.header("content-length");
      if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
        return Number(length) > maxSize ? Promise.resolve(tooLarge(c)) : next();
      }
      return streamed(c, next);
    };
  };
  const single = limited(limits.maxBodyBytes, "INGEST_MAX_BODY_BYTES");
  const batch = limited(limits.maxBatchBytes, "INGEST_MAX_BATCH_BYTES");
  return (c, next) => (c.req.path === BATCH_PATH ? batch : single)(c, next);
}
