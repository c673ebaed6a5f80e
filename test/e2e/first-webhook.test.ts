import { type Sink, type Stack, sleep } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

let e2e: E2eStack;
let sink: Sink;
let stack: Stack;
let ingest: IngestClient;

beforeAll(async () => {
  e2e = await startE2eStack({ prefix: "e2efirst", services: ["ingest", "delivery"] });
  ({ sink, stack, ingest } = e2e);
});

afterAll(() => e2e?.stop());

describe("the first delivered webhook", () => {
  it("delivers one signed webhook with the Standard Webhooks envelope", async () => {
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/one"),
      eventTypes: ["order.created"],
    });
    sink.setSecrets("/one", [endpoint.secret]);
    const posted = await ingest.postEvent({
      eventType: "order.created",
      payload: { orderId: "o_1", total: 42 },
    });
    expect(posted.status).toBe(202);
    expect(posted.json).toMatchObject({ tasks: 1, duplicate: false });

    const [delivery] = await sink.waitFor(1, { path: "/one" });
    expect(delivery?.verified).toBe(true);
    expect(delivery?.webhookId).toBe(posted.json.eventId);
    expect(delivery?.json).toEqual({
      type: "order.created",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { orderId: "o_1", total: 42 },
    });
    await sleep(500);
    expect(sink.count("/one")).toBe(1);
  });

  it("answers tasks: 0 for an event type nobody subscribes to, and sends nothing", async () => {
    const before = sink.count();
    const posted = await ingest.postEvent({ eventType: "nobody.listens", payload: {} });
    expect(posted.status).toBe(202);
    expect(posted.json).toMatchObject({ tasks: 0, duplicate: false });
    await sleep(500);
    expect(sink.count()).toBe(before);
  });

  it("fans out to the two subscribed endpoints of three", async () => {
    const a = await ingest.createEndpoint({
      url: sink.url("/fan-a"),
      eventTypes: ["invoice.paid"],
    });
    const b = await ingest.createEndpoint({
      url: sink.url("/fan-b"),
      eventTypes: ["invoice.created", "invoice.paid"],
    });
    await ingest.createEndpoint({ url: sink.url("/fan-c"), eventTypes: ["invoice.voided"] });
    sink.setSecrets("/fan-a", [a.secret]);
    sink.setSecrets("/fan-b", [b.secret]);
    const posted = await ingest.postEvent({ eventType: "invoice.paid", payload: { n: 1 } });
    expect(posted.json.tasks).toBe(2);
    const [fromA] = await sink.waitFor(1, { path: "/fan-a" });
    const [fromB] = await sink.waitFor(1, { path: "/fan-b" });
    expect(fromA?.verified && fromB?.verified).toBe(true);
    await sleep(500);
    expect(sink.count("/fan-c")).toBe(0);
    expect(sink.count("/fan-a") + sink.count("/fan-b")).toBe(2);
  });

  it("treats the same Idempotency-Key twice as one event", async () => {
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/idem"),
      eventTypes: ["user.x"],
    });
    sink.setSecrets("/idem", [endpoint.secret]);
    const event = { eventType: "user.x", payload: { name: "Ada" } };
    const first = await ingest.postEvent(event, { "idempotency-key": "signup-42" });
    const second = await ingest.postEvent(event, { "idempotency-key": "signup-42" });
    expect(first.json).toEqual({ eventId: "signup-42", tasks: 1, duplicate: false });
    expect(second.json).toEqual({ eventId: "signup-42", tasks: 1, duplicate: true });
    await sink.waitFor(1, { path: "/idem" });
    await sleep(500);
    expect(sink.count("/idem")).toBe(1);
  });

  it("signs with both secrets after a rotation, and both verify", async () => {
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/rot"),
      eventTypes: ["key.rot"],
    });
    const rotated = await ingest.request(`/v1/endpoints/${endpoint.id}/rotate-secret`, {
      method: "POST",
    });
    expect(rotated.status).toBe(200);
    const { secret: newSecret } = (await rotated.json()) as { secret: string };
    expect(newSecret).not.toBe(endpoint.secret);
    sink.setSecrets("/rot", [endpoint.secret, newSecret]);
    await ingest.postEvent({ eventType: "key.rot", payload: {} });
    const [delivery] = await sink.waitFor(1, { path: "/rot" });
    expect(delivery?.signatures).toHaveLength(2);
    expect(delivery?.verifiedSecrets.sort()).toEqual([endpoint.secret, newSecret].sort());
  });

  it("refuses bad requests with problem+json", async () => {
    const url = `${stack.url("ingest")}/v1/events`;
    const noToken = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ eventType: "a.b", payload: {} }),
    });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get("content-type")).toContain("application/problem+json");

    const oversized = await ingest.postEvent({
      eventType: "a.b",
      payload: { blob: "x".repeat(300_000) },
    });
    expect(oversized.status).toBe(413);
    expect(oversized.json).toMatchObject({ status: 413 });

    const invalid = await ingest.request("/v1/events", {
      method: "POST",
      body: JSON.stringify({ eventType: "has spaces", payload: {} }),
    });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("content-type")).toContain("application/problem+json");
    const problem = (await invalid.json()) as { detail: string; errors: { path: string }[] };
    expect(problem.errors.map((error) => error.path)).toContain("eventType");
    expect(problem.detail).toContain("eventType");
  });
});
