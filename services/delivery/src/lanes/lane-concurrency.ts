import type { DeliveryLane } from "@hookline/contracts";

/**
 * Splits DELIVERY_MAX_IN_FLIGHT between the lanes. Each lane has its own share, so a burst of
 * retries or a bulk replay can never take the slots new traffic needs, nor the reverse.
 */
export function laneConcurrency(
  maxInFlight: number,
  retryShare: number,
): Record<DeliveryLane, number> {
  const total = Math.max(2, Math.floor(maxInFlight));
  const retry = Math.min(total - 1, Math.max(1, Math.floor(total * retryShare)));
  return { fresh: total - retry, retry };
}
