import { attemptResults } from "./enums";
import { type AttemptRecord, HISTORY_LIMIT } from "./messages";

const RESULTS: ReadonlySet<string> = new Set(attemptResults);

/** zod 4's `.int()`: a safe integer. */
const isInt = (value: unknown, min: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= min;

/**
 * The attempts of a `Hookline-History` value when contracts' history schema accepts it, checked
 * by hand (zod per message was most of the CPU of the paths that read history per record):
 * integers are safe integers, numbers finite, and keys the schema does not know are allowed and
 * left in place (zod would strip them). `exactKeys` refuses those keys too, for a reader that
 * passes the text on as it is and must pass on only what encodeTask writes.
 */
export function readHistoryText(
  text: string,
  options: { exactKeys?: boolean } = {},
): readonly AttemptRecord[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length > HISTORY_LIMIT) return undefined;
  for (const record of parsed as unknown[]) {
    if (typeof record !== "object" || record === null || Array.isArray(record)) return undefined;
    const { n, at, result, status, error, ms } = record as Record<string, unknown>;
    if (!isInt(n, 0) || !isInt(at, 0)) return undefined;
    if (typeof result !== "string" || !RESULTS.has(result)) return undefined;
    if (status !== undefined && (!isInt(status, 100) || status > 599)) return undefined;
    if (error !== undefined && (typeof error !== "string" || error.length > 200)) return undefined;
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return undefined;
    if (options.exactKeys === true && !onlyKnownKeys(record)) return undefined;
  }
  return parsed as AttemptRecord[];
}

const KNOWN_KEYS: ReadonlySet<string> = new Set(["n", "at", "result", "status", "error", "ms"]);

function onlyKnownKeys(record: object): boolean {
  for (const key of Object.keys(record)) if (!KNOWN_KEYS.has(key)) return false;
  return true;
}
