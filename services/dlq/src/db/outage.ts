/** The database could not be reached or is shutting down: a reason to answer 503 or retry. */
export type DatabaseUnavailable = { outcome: "unavailable"; dependency: "database" };
export const databaseUnavailable: DatabaseUnavailable = {
  outcome: "unavailable",
  dependency: "database",
};

const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
const outageMessages = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Query read timeout",
  "Client has encountered a connection error",
  "Connection ended unexpectedly",
  "the database system is",
];

/**
 * True for errors that mean "the database is not there right now" (network errors, SQLSTATE
 * class 08 connection exceptions, 57P0x shutdowns, 53xxx out of resources, pg's client
 * timeouts) as opposed to a bug such as a bad query, which should surface as one.
 */
export function isDatabaseOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (networkCodes.has(code)) return true;
    if (/^(08|57P0|53)/.test(code)) return true;
  }
  if (outageMessages.some((text) => error.message.includes(text))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isDatabaseOutage(cause);
}

/** Runs a database call; an outage becomes `unavailable`, anything else still throws. */
export async function unlessDatabaseDown<T>(
  run: () => Promise<T>,
): Promise<T | DatabaseUnavailable> {
  try {
    return await run();
  } catch (error) {
    if (isDatabaseOutage(error)) return databaseUnavailable;
    throw error;
  }
}
