import { Counter, type ServiceMetrics } from "@hookline/kit";

export interface ClassifierMetrics {
  /**
   * Every outcome and poison message handled. `decision` is retry, defer, deadletter or ignore;
   * `reason` the dead-letter reason, or for retries and deferrals the attempt result.
   */
  decisions: Counter<"decision" | "reason">;
  retryScheduled: Counter<"tier">;
  retryReleased: Counter<"tier">;
  endpointsDisabled: Counter<"reason">;
}

export function createClassifierMetrics(service: ServiceMetrics): ClassifierMetrics {
  const registers = [service.registry];
  return {
    decisions: new Counter({
      name: "hookline_classifier_decisions_total",
      help: "Failed passes and poison messages classified, by decision and reason",
      labelNames: ["decision", "reason"],
      registers,
    }),
    retryScheduled: new Counter({
      name: "hookline_retry_scheduled_total",
      help: "Retries and deferrals put into a delay tier",
      labelNames: ["tier"],
      registers,
    }),
    retryReleased: new Counter({
      name: "hookline_retry_released_total",
      help: "Retries released from a delay tier to dispatch.retry once due",
      labelNames: ["tier"],
      registers,
    }),
    endpointsDisabled: new Counter({
      name: "hookline_endpoints_disabled_total",
      help: "Endpoints the classifier disabled, by reason",
      labelNames: ["reason"],
      registers,
    }),
  };
}
