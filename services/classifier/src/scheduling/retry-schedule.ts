import { type EndpointRecord, parseDuration } from "@hookline/contracts";

/**
 * The schedule for an endpoint: its own `retrySchedule` when it has one, else the default.
 * Parsed once per record (records are replaced, never mutated, when the KV watch sees a write).
 */
export function createScheduleLookup(
  defaultSchedule: readonly number[],
): (endpoint: EndpointRecord | undefined) => readonly number[] {
  const parsed = new WeakMap<readonly string[], readonly number[]>();
  return (endpoint) => {
    const own = endpoint?.retrySchedule;
    if (own === undefined || own.length === 0) return defaultSchedule;
    let schedule = parsed.get(own);
    if (schedule === undefined) {
      // The record schema only admits parseable durations; a stray one falls back to default.
      const values = own.map((text) => parseDuration(text));
      schedule = values.every((ms) => ms !== undefined) ? (values as number[]) : defaultSchedule;
      parsed.set(own, schedule);
    }
    return schedule;
  };
}
