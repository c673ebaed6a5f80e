import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";

let e2e: E2eStackWithDlq;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "e2eorphan",
    services: ["ingest", "delivery", "classifier", "dlq"],
  });
});

afterAll(() => e2e?.stop());

describe("shutdown once NATS has gone", () => {
  it("with webhooks in flight, SIGTERM ends every service at once, not at the deadline", {
    timeout: 120_000,
  }, async () => {
    const { nats, sink, ingest, stack } = e2e;
    const endpoint = await ingest.createEndpoint({ url: sink.url("/slow"), eventTypes: ["s.e"] });
    sink.setSecrets("/slow", [endpoint.secret]);
    // Each webhook takes 3 s to answer, so tasks are in flight when NATS goes.
    sink.setDefault("/slow", { delayMs: 3_000 });
    for (let n = 0; n < 20; n++) {
      expect((await ingest.postEvent({ eventType: "s.e", payload: { n } })).status).toBe(202);
    }
    await sink.waitFor(1, { path: "/slow" });
    await nats.kill();

    for (const service of ["delivery", "ingest", "classifier", "dlq"]) {
      const stopping = Date.now();
      // Longer than SHUTDOWN_TIMEOUT (25 s): the deadline would end it too, with a warning.
      const exit = await stack.terminate(service, 60_000);
      const tookMs = Date.now() - stopping;

      expect(exit, service).toEqual({ code: 0, signal: null });
      expect(stack.logs(service).join("\n"), service).not.toContain("shutdown deadline passed");
      // Nothing in flight can be acked without NATS (JetStream redelivers it after ack_wait),
      // so there is nothing to wait for but the webhooks in flight, which answer within 3 s.
      expect(tookMs, service).toBeLessThan(10_000);
    }
  });
});
