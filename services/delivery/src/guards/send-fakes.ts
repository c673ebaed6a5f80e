import type { SendResult, SendWebhook, WebhookRequest } from "../http/webhook-client";

/** Results as the HTTP client reports them, for tests of what sits in front of it. */
export const results = {
  status(status: number): SendResult {
    return status >= 200 && status < 300
      ? { result: "delivered", status, ms: 1 }
      : { result: "http_error", status, ms: 1 };
  },
  timeout: { result: "timeout", error: "no response within 1000 ms", ms: 1_000 } as SendResult,
  networkError: { result: "network_error", error: "ECONNREFUSED", ms: 1 } as SendResult,
  blocked: { result: "blocked_destination", error: "blocked: 10.0.0.1", ms: 0 } as SendResult,
};

export function webhookRequest(): WebhookRequest {
  return {
    url: "http://receiver.test/hook",
    headers: {},
    body: new Uint8Array(),
    timeoutMs: 1_000,
  };
}

export interface FakeSend {
  send: SendWebhook;
  /** Requests that reached the "endpoint". */
  calls(): number;
  /** The next answers, in order; after them every call is delivered (200). */
  answer(...next: SendResult[]): void;
  /** The next call stays in flight until the returned function settles it. */
  hold(): (result: SendResult) => void;
}

/** Stands in for the HTTP client at the send seam: scripted answers, no network. */
export function fakeSend(): FakeSend {
  const queue: SendResult[] = [];
  let held: Promise<SendResult> | undefined;
  let calls = 0;
  return {
    send: () => {
      calls++;
      if (held) {
        const pending = held;
        held = undefined;
        return pending;
      }
      return Promise.resolve(queue.shift() ?? results.status(200));
    },
    calls: () => calls,
    answer: (...next) => {
      queue.push(...next);
    },
    hold: () => {
      let settle: (result: SendResult) => void = () => undefined;
      held = new Promise<SendResult>((resolve) => {
        settle = resolve;
      });
      return (result) => settle(result);
    },
  };
}
