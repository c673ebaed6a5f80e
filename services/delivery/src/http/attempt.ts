import type { AttemptResult } from "@hookline/contracts";

/** What one HTTP attempt did, before timing is added. `responseBody`: the start of the
 * answer's body as one line of text (≤ RESPONSE_BODY_LIMIT characters), absent when empty. */
export type AttemptReport =
  | { result: "delivered"; status: number; responseBody?: string }
  | {
      result: "http_error";
      status: number;
      error?: string;
      retryAfterMs?: number;
      responseBody?: string;
    }
  | { result: "timeout" | "network_error" | "blocked_destination"; error: string };

export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "none";

/** A metrics label: the status family, or none when no response came back. */
export function statusClass(status: number | undefined): StatusClass {
  if (status === undefined) return "none";
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 300 && status < 400) return "3xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500 && status < 600) return "5xx";
  return "none";
}

/**
 * 2xx is delivered; everything else, 3xx included (redirects are not followed), is an error.
 * `body` (the start of the answer, one line) is every answer's responseBody and a failure's
 * error text; an empty one is left out.
 */
export function reportForStatus(
  status: number,
  detail: { body?: string | undefined; retryAfterMs?: number | undefined } = {},
): AttemptReport {
  const body = detail.body === "" ? undefined : detail.body;
  if (status >= 200 && status < 300) {
    return body === undefined
      ? { result: "delivered", status }
      : { result: "delivered", status, responseBody: body };
  }
  const report: AttemptReport = { result: "http_error", status };
  if (body !== undefined) {
    report.error = body;
    report.responseBody = body;
  }
  if (detail.retryAfterMs !== undefined) report.retryAfterMs = detail.retryAfterMs;
  return report;
}

const timeoutCodes = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

interface ErrorFacts {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and everything it wraps (undici and Node nest causes and AggregateErrors). */
function errorChain(error: unknown): ErrorFacts[] {
  const chain: ErrorFacts[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < 10) {
    const next = queue.shift();
    if (typeof next !== "object" || next === null) continue;
    const facts = next as ErrorFacts;
    chain.push(facts);
    if (facts.cause !== undefined) queue.push(facts.cause);
    if (Array.isArray(facts.errors)) queue.push(...facts.errors);
  }
  return chain;
}

function describe(facts: ErrorFacts | undefined, fallback: string): string {
  if (!facts) return fallback;
  const code = typeof facts.code === "string" ? facts.code : undefined;
  const message = typeof facts.message === "string" && facts.message !== "" ? facts.message : "";
  if (code && message && !message.includes(code)) return `${code}: ${message}`;
  return message || code || fallback;
}

/**
 * Maps a failed request to a result: the guard's refusal is `blocked_destination`; the total
 * timeout (AbortSignal.timeout) and undici's read timeouts are `timeout`; everything else that
 * kept a response from arriving (refused, reset, DNS, TLS, connect timeout) is `network_error`.
 */
export function reportForError(error: unknown): AttemptReport {
  const chain = errorChain(error);
  const blocked = chain.find((facts) => facts.code === "HOOKLINE_BLOCKED_DESTINATION");
  if (blocked) return { result: "blocked_destination", error: describe(blocked, "blocked") };
  const timedOut = chain.find(
    (facts) =>
      facts.name === "TimeoutError" ||
      (typeof facts.code === "string" && timeoutCodes.has(facts.code)),
  );
  if (timedOut) return { result: "timeout", error: describe(timedOut, "timed out") };
  const coded = chain.find((facts) => typeof facts.code === "string") ?? chain[0];
  return { result: "network_error", error: describe(coded, String(error)) };
}

/**
 * Results that leave `Hookline-Attempt` unchanged. `circuit_open` is not among them: an attempt
 * that comes due while the breaker is open counts without a request, so a dead endpoint's tasks
 * reach `exhausted` on their schedule instead of looping until their deadline.
 */
const notAttempts = new Set<AttemptResult>([
  "endpoint_missing",
  "endpoint_disabled",
  "rate_limited",
]);

export function isAttempt(result: AttemptResult): boolean {
  return !notAttempts.has(result);
}
