import type { Logger } from "pino";

/**
 * A warning logged at most once per interval: while NATS is unavailable every message fails the
 * same way, and one line says as much as a thousand.
 */
export function createOutageWarning(
  logger: Logger,
  intervalMs = 10_000,
): (error: unknown, message: string) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (error, message) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    logger.warn({ err: error }, message);
  };
}
