const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses "200ms", "5s", "5m", "2h", "1d". A unit is required: a bare "5" is ambiguous
 * between seconds and milliseconds, and a retry schedule must not guess.
 */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * unitMs[unit as keyof typeof unitMs]);
}

/** Parses a comma-separated list of durations, such as a retry schedule. */
export function parseDurationList(text: string): number[] | undefined {
  const parts = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  const values = parts.map(parseDuration);
  if (values.length === 0 || values.some((value) => value === undefined)) return undefined;
  return values as number[];
}
