import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";

let e2e: E2eStack;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "fair",
    services: ["ingest", "delivery"],
    env: { LOG_LEVEL: "warn" },
  });
}, 120_000);

afterAll(() => e2e?.stop());

/**
 * Head-of-line blocking, end to end. The latency figures (healthy p99 alone and beside the slow
 * endpoint) are measured by `pnpm chaos` and reported in docs/reliability.md; this test checks
 * the order of events, which doesn't depend on how busy the machine is.
 */
describe("a slow endpoint with a thousand tasks queued", () => {
  it("doesn't hold up a healthy endpoint posted to after it", { timeout: 90_000 }, async () => {
    const { sink, ingest } = e2e;
    sink.setDefault("/fair-slow", { status: 200, delayMs: 5_000 });
    await ingest.createEndpoint({ url: sink.url("/fair-slow"), eventTypes: ["fair.slow"] });
    await ingest.createEndpoint({ url: sink.url("/fair-healthy"), eventTypes: ["fair.healthy"] });

    for (let start = 0; start < 1_000; start += 500) {
      const events = Array.from({ length: 500 }, (_, i) => ({
        eventType: "fair.slow",
        payload: { n: start + i },
      }));
      const res = await ingest.request("/v1/events/batch", {
        method: "POST",
        body: JSON.stringify({ events }),
      });
      expect(res.status).toBe(202);
    }
    await sink.waitFor(1, { path: "/fair-slow", timeoutMs: 10_000 });

    for (let n = 0; n < 100; n++) {
      const res = await ingest.postEvent({ eventType: "fair.healthy", payload: { n } });
      expect(res.status).toBe(202);
    }
    await sink.waitFor(100, { path: "/fair-healthy", timeoutMs: 30_000 });
    // All healthy ones went out while the slow endpoint was still far from done: at its cap of
    // 64 at a time, 5 s each, it takes over a minute for a thousand.
    expect(sink.count("/fair-slow")).toBeLessThan(200);
  });
});
