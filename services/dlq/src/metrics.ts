import { deadLetterReasons } from "@hookline/contracts";
import { Counter, Gauge, type ServiceMetrics } from "@hookline/kit";
import { type DeadLetterStatus, deadLetterStatuses } from "./db/schema";

export const dlqActions = ["replayed", "resolved", "discarded", "purged"] as const;
export type DlqAction = (typeof dlqActions)[number];

export interface DlqMetrics {
  /** Letters stored, new or dead again, by reason; redeliveries are not counted. */
  stored: Counter<"reason">;
  /** Letters acted on, counted per letter (a bulk call counts each one). */
  actions: Counter<"action">;
}

/**
 * DLQ series on the service registry. The `hookline_dead_letters` gauge follows the table: it
 * asks `countByStatus` on every scrape (undefined while the database is not there, which leaves
 * the last values).
 */
export function createDlqMetrics(
  service: ServiceMetrics,
  countByStatus: () => Promise<Record<DeadLetterStatus, number> | undefined>,
): DlqMetrics {
  const registers = [service.registry];
  const stored = new Counter({
    name: "hookline_dead_letters_stored_total",
    help: "Dead letters stored (new, or a task that died again), by reason",
    labelNames: ["reason"],
    registers,
  });
  for (const reason of deadLetterReasons) stored.inc({ reason }, 0);
  const actions = new Counter({
    name: "hookline_dlq_actions_total",
    help: "Dead letters replayed, resolved, discarded or purged by retention",
    labelNames: ["action"],
    registers,
  });
  for (const action of dlqActions) actions.inc({ action }, 0);
  new Gauge({
    name: "hookline_dead_letters",
    help: "Dead letters in the store by status",
    labelNames: ["status"],
    registers,
    async collect() {
      const counts = await countByStatus();
      if (counts === undefined) return;
      for (const status of deadLetterStatuses) this.set({ status }, counts[status]);
    },
  });
  return { stored, actions };
}
