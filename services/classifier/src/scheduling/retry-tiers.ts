import { parseDuration } from "@hookline/contracts";

/**
 * A delay tier: `name` is the duration exactly as configured ("5s", "200ms"), used in the subject
 * `retry.<name>.<ep>` and the consumer `retry-<name>`, so it must be a valid token in both.
 */
export interface RetryTier {
  name: string;
  ms: number;
}

/** Whole numbers only: "1.5s" would put a dot, a subject separator, into the tier's subject. */
const tierNamePattern = /^[1-9]\d*(ms|s|m|h|d)$/;

export type ParsedRetryTiers = { ok: true; tiers: RetryTier[] } | { ok: false; error: string };

/** Parses RETRY_TIERS ("5s,30s,2m"): whole durations, no two equal; returned shortest first. */
export function parseRetryTiers(text: string): ParsedRetryTiers {
  const names = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (names.length === 0) return { ok: false, error: "expected at least one tier" };
  const tiers: RetryTier[] = [];
  for (const name of names) {
    const ms = parseDuration(name);
    if (!tierNamePattern.test(name) || ms === undefined) {
      return { ok: false, error: `"${name}" is not a whole duration such as 200ms, 5s or 2h` };
    }
    const same = tiers.find((tier) => tier.ms === ms);
    if (same) return { ok: false, error: `"${name}" and "${same.name}" are the same tier` };
    tiers.push({ name, ms });
  }
  return { ok: true, tiers: tiers.sort((a, b) => a.ms - b.ms) };
}

/** The tier a delay waits in: the shortest at least as long as the delay, else the longest. */
export function retryTierFor(tiers: readonly RetryTier[], delayMs: number): RetryTier {
  const longest = tiers.at(-1);
  if (!longest) throw new Error("no retry tiers configured");
  return tiers.find((tier) => tier.ms >= delayMs) ?? longest;
}
