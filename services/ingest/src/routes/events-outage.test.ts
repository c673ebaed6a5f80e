import { pollUntil } from "@hookline/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { countsBySubject } from "../testing/dispatch-stream";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function subscribe(harness: IngestHarness, eventType: string): Promise<string> {
  const response = await harness.call("POST", "/v1/endpoints", {
    url: "https://example.com/h",
    eventTypes: [eventType],
  });
  expect(response.status).toBe(201);
  return String(((await response.json()) as { id: string }).id);
}

async function expectUnavailable(response: Response, retryAfter: string) {
  expect(response.status).toBe(503);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  expect(response.headers.get("retry-after")).toBe(retryAfter);
  expect(((await response.json()) as { code: string }).code).toBe("unavailable");
}

describe("when NATS is down", () => {
  it("answers 503 with Retry-After, never 202, and accepts again after NATS is back", async () => {
    const harness = await startIngestHarness({ prefix: "ingest_outage" });
    h = harness;
    const endpointId = await subscribe(harness, "outage.test");
    const event = (id: string) => ({ eventType: "outage.test", payload: { id }, id });

    expect((await harness.call("POST", "/v1/events", event("before"))).status).toBe(202);

    await harness.nats.kill();
    // Whether the client has noticed yet (fail fast) or a publish times out, the answer is 503.
    await expectUnavailable(await harness.call("POST", "/v1/events", event("during-1")), "1");
    await expectUnavailable(
      await harness.call("POST", "/v1/events/batch", { events: [event("during-2")] }),
      "1",
    );
    await expectUnavailable(
      await harness.call("POST", "/v1/endpoints", { url: "https://example.com/h" }),
      "1",
    );
    expect((await harness.app.request("/readyz")).status).toBe(503);

    await harness.nats.restart();
    let accepted: Response | undefined;
    await pollUntil(
      async () => {
        accepted = await harness.call("POST", "/v1/events", event("after"));
        return accepted.status === 202;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: "ingest to accept events again" },
    );
    expect(await accepted?.json()).toMatchObject({ eventId: "after", tasks: 1 });

    const subject = harness.names.subjects.dispatchFresh(endpointId);
    const stored = await countsBySubject(harness.jsm, harness.names.streams.dispatch);
    // "before" survived the crash (file storage) and "after" was added; the 503s stored nothing
    // that the client was told had been accepted.
    expect(stored[subject]).toBeGreaterThanOrEqual(2);
    const text = await (await harness.app.request("/metrics")).text();
    expect(text).toMatch(
      /hookline_ingest_events_total\{outcome="unavailable",service="ingest"\} [1-9]/,
    );
  });
});

describe("when the dispatch stream is full", () => {
  it("answers 503 with Retry-After instead of accepting what it cannot store", async () => {
    const harness = await startIngestHarness({ prefix: "ingest_full", dispatchMaxBytes: 8_192 });
    h = harness;
    await subscribe(harness, "fill.up");
    const payload = "f".repeat(1_000);
    let response: Response | undefined;
    for (let n = 0; n < 20; n++) {
      response = await harness.call("POST", "/v1/events", { eventType: "fill.up", payload });
      if (response.status !== 202) break;
    }
    expect(response).toBeDefined();
    if (response === undefined) return;
    await expectUnavailable(response, "2");
  });
});
