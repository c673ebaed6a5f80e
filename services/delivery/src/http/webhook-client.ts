import type { IncomingHttpHeaders } from "node:http";
import {
  checkEndpointDestination,
  DEFAULT_ENDPOINT_PORT_POLICY,
  type EndpointPortPolicy,
  parseRetryAfter,
  RESPONSE_BODY_LIMIT,
} from "@hookline/contracts";
import { Agent, buildConnector, type Dispatcher } from "undici";
import { createAddressGuard } from "./address-guard";
import { type AttemptReport, reportForError, reportForStatus } from "./attempt";
import { createGuardedConnector } from "./guarded-connector";

/**
 * At most this many bytes of a response are read, for the outcome's response body (and a
 * failure's error text). UTF-8 never decodes to more UTF-16 units than it has bytes, so the
 * text stays within RESPONSE_BODY_LIMIT characters.
 */
export const RESPONSE_READ_LIMIT = RESPONSE_BODY_LIMIT;

export interface WebhookRequest {
  url: string;
  /** Complete request headers, signature included. */
  headers: Record<string, string>;
  /** Sent exactly as given. */
  body: Uint8Array;
  /** Total time for connect, request and response. */
  timeoutMs: number;
}

export type SendResult = AttemptReport & {
  /** Wall-clock duration of the attempt. */
  ms: number;
};

/** The one function every webhook goes through; a circuit breaker can wrap it. */
export type SendWebhook = (request: WebhookRequest) => Promise<SendResult>;

export interface WebhookClient {
  send: SendWebhook;
  close(): Promise<void>;
}

export interface WebhookClientOptions {
  connectTimeoutMs: number;
  /** Skips the address guard: tests and the dev runner deliver to 127.0.0.1. */
  allowPrivateNetworks: boolean;
  /** ENDPOINT_BLOCKED_PORTS and ENDPOINT_ALLOWED_PORTS; default DEFAULT_ENDPOINT_PORT_POLICY. */
  endpointPorts?: EndpointPortPolicy;
}

/**
 * A keep-alive undici agent that never follows redirects (a 3xx is just a status), refuses
 * private destinations at connect time, and reads at most 1 KiB of any response: the start of
 * its body goes with the attempt's report.
 *
 * It uses undici's dispatch API with its own handler and timer rather than `request()` with
 * `AbortSignal.timeout()`: no response stream and no abort-signal listeners per webhook, which
 * more than doubled the requests per second one core can send.
 */
export function createWebhookClient(options: WebhookClientOptions): WebhookClient {
  const connect = options.allowPrivateNetworks
    ? buildConnector({ timeout: options.connectTimeoutMs })
    : createGuardedConnector({
        guard: createAddressGuard(),
        connectTimeoutMs: options.connectTimeoutMs,
      });
  const agent = new Agent({ connect });
  const targetOf = createTargets(options.endpointPorts ?? DEFAULT_ENDPOINT_PORT_POLICY);

  const send: SendWebhook = (webhook) =>
    new Promise<SendResult>((resolve) => {
      let target: Target;
      try {
        target = targetOf(webhook.url);
      } catch (error) {
        resolve({ ...reportForError(error), ms: 0 });
        return;
      }
      if ("refused" in target) {
        resolve({ result: "blocked_destination", error: target.refused, ms: 0 });
        return;
      }
      const started = performance.now();
      const attempt = new Attempt((report) =>
        resolve({ ...report, ms: performance.now() - started }),
      );
      attempt.startTimer(webhook.timeoutMs);
      try {
        agent.dispatch(
          {
            origin: target.origin,
            path: target.path,
            method: "POST",
            headers: webhook.headers,
            body: webhook.body,
          },
          attempt,
        );
      } catch (error) {
        attempt.fail(error);
      }
    });

  return { send, close: () => agent.close() };
}

/** Where a URL's webhooks go, or why none may go there (never naming its credentials). */
type Target = { origin: string; path: string } | { refused: string };

/** Past this many URLs the map starts over rather than grow. */
const MAX_TARGETS = 10_000;

/**
 * Parses and judges each endpoint URL once: an endpoint sends many webhooks to the same one.
 * Throws what `new URL` throws for a URL that does not parse.
 */
function createTargets(ports: EndpointPortPolicy): (url: string) => Target {
  const targets = new Map<string, Target>();
  return (url) => {
    let target = targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      const verdict = checkEndpointDestination(parsed, ports);
      target =
        verdict.outcome === "refused"
          ? { refused: `endpoint URL refused: ${verdict.message}` }
          : { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (targets.size >= MAX_TARGETS) targets.clear();
      targets.set(url, target);
    }
    return target;
  };
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The start of a response body as one line of text; most bodies come in one chunk. */
function snippet(first: Buffer, rest: Buffer[] | undefined, size: number): string {
  const bytes =
    rest === undefined
      ? first
      : Buffer.concat([first, ...rest], Math.min(size, RESPONSE_READ_LIMIT));
  return bytes
    .toString("utf8", 0, RESPONSE_READ_LIMIT)
    .replace(/\p{Cc}+/gu, " ") // control characters, line breaks included
    .trim();
}

/** Follows one request through undici and settles exactly once: answer, error or timeout. */
class Attempt implements Dispatcher.DispatchHandler {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private retryAfter: string | undefined;
  /** The body read so far, kept without an array until a second chunk comes. */
  private firstChunk: Buffer | undefined;
  private moreChunks: Buffer[] | undefined;
  private size = 0;

  constructor(private readonly settle: (report: AttemptReport) => void) {}

  startTimer(timeoutMs: number): void {
    this.timer = setTimeout(() => {
      if (this.status >= 200) {
        this.answer(); // the answer came in time; only its body is slow
      } else {
        this.finish({ result: "timeout", error: `no response within ${timeoutMs} ms` });
      }
      this.abort();
    }, timeoutMs);
  }

  fail(error: unknown): void {
    this.finish(reportForError(error));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Timed out while still connecting or queued: don't send it late.
    if (this.settled) this.abort();
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx is informational; the real answer follows
    this.status = statusCode;
    this.retryAfter = firstHeader(headers["retry-after"]);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.firstChunk === undefined) this.firstChunk = chunk;
    else if (this.size < RESPONSE_READ_LIMIT) {
      if (this.moreChunks === undefined) this.moreChunks = [chunk];
      else this.moreChunks.push(chunk);
    }
    this.size += chunk.length;
    if (this.size > RESPONSE_READ_LIMIT) {
      this.answer();
      this.abort(); // read no more: undici closes the connection
    }
  }

  onResponseEnd(): void {
    this.answer();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    // An answer cut short (our own abort included) is still the answer.
    if (this.status >= 200) this.answer();
    else this.fail(error);
  }

  private answer(): void {
    if (this.settled) return;
    const retryAfterMs =
      this.status >= 300 ? parseRetryAfter(this.retryAfter, Date.now()) : undefined;
    const body =
      this.firstChunk === undefined
        ? undefined
        : snippet(this.firstChunk, this.moreChunks, this.size);
    this.finish(reportForStatus(this.status, { body, retryAfterMs }));
  }

  private finish(report: AttemptReport): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.settle(report);
  }

  private abort(): void {
    const controller = this.controller;
    if (controller && !controller.aborted) {
      controller.abort(new Error("attempt finished: response no longer read"));
    }
  }
}
