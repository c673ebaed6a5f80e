import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { payloadTooLarge } from "./problems";

export const BATCH_PATH = "/v1/events/batch";

/** INGEST_MAX_BODY_BYTES for every /v1 body, INGEST_MAX_BATCH_BYTES for batches. */
export function bodyLimits(limits: {
  maxBodyBytes: number;
  maxBatchBytes: number;
}): MiddlewareHandler {
  const limited = (maxSize: number, variable: string) =>
    bodyLimit({
      maxSize,
      onError: (c) =>
        payloadTooLarge(c, `the request body is larger than ${maxSize} bytes (${variable})`),
    });
  const single = limited(limits.maxBodyBytes, "INGEST_MAX_BODY_BYTES");
  const batch = limited(limits.maxBatchBytes, "INGEST_MAX_BATCH_BYTES");
  return (c, next) => (c.req.path === BATCH_PATH ? batch : single)(c, next);
}
