import { pollUntil } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStackWithDlq, startE2eStack } from "../support/e2e-stack";

/**
 * Operational events: Hookline tells operator endpoints (tenant `hookline`) about itself through
 * its own pipeline, signed like any webhook; a `slack` endpoint gets Slack's incoming-webhook body.
 */
let e2e: E2eStackWithDlq;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "e2eops",
    services: ["ingest", "delivery", "classifier", "dlq"],
    env: { RETRY_SCHEDULE: "200ms", RETRY_TIERS: "200ms,1s", RETRY_JITTER: "0" },
    serviceEnv: {
      delivery: {
        DELIVERY_BREAKER_VOLUME_THRESHOLD: "3",
        DELIVERY_BREAKER_RESET_TIMEOUT: "1s",
      },
      // Windows and checks short enough to watch; the defaults are a minute and 30 s.
      dlq: {
        OPS_DEADLETTER_WINDOW: "2s",
        OPS_DEADLETTER_THRESHOLDS: "10",
        OPS_CHECK_INTERVAL: "1s",
        OPS_FAILURE_RATE_MIN_ATTEMPTS: "5",
      },
    },
  });
});

afterAll(async () => {
  await e2e?.stop();
});

/** An endpoint of the system tenant; ingest creates the tenant at start, so wait for it. */
async function operatorEndpoint(body: Record<string, unknown>) {
  let created: { id: string; secret: string } | undefined;
  await pollUntil(
    async () => {
      created = await e2e.ingest.createTenantEndpoint("hookline", body).catch(() => undefined);
      return created !== undefined;
    },
    { timeoutMs: 10_000, what: "the hookline tenant to take an endpoint" },
  );
  if (created === undefined) throw new Error("no operator endpoint");
  return created;
}

/**
 * What Slack documents for an incoming webhook's JSON (api.slack.com/messaging/webhooks and
 * chat.postMessage's arguments it takes): `text`, or `blocks`/`attachments` with `text` as the
 * fallback, and a few display flags. Anything else is not part of the documented body.
 */
const SLACK_WEBHOOK_FIELDS = new Set([
  "text",
  "blocks",
  "attachments",
  "thread_ts",
  "mrkdwn",
  "unfurl_links",
  "unfurl_media",
]);

/** Slack's mrkdwn: &, < and > are control characters, so only escapes and <url|label> links. */
function isSlackMrkdwn(text: string): boolean {
  const withoutLinks = text.replaceAll(/<https?:\/\/[^\s|<>]+\|[^<>]+>/g, "");
  const withoutEscapes = withoutLinks.replaceAll(/&(amp|lt|gt);/g, "");
  return !/[<>&]/.test(withoutEscapes);
}

describe("operational events", () => {
  it("a 410 disables an endpoint and the operator's endpoints hear of it, signed, in their formats", {
    timeout: 60_000,
  }, async () => {
    const { ingest, sink } = e2e;
    // An operator subscribes like any endpoint.
    const operator = await operatorEndpoint({
      url: sink.url("/ops"),
      eventTypes: ["hookline.endpoint.disabled", "hookline.endpoint.enabled"],
    });
    const slack = await ingest.createTenantEndpoint("hookline", {
      url: sink.url("/ops-slack"),
      eventTypes: ["hookline.endpoint.disabled"],
      format: "slack",
    });
    sink.setSecrets("/ops", [operator.secret]);
    sink.setSecrets("/ops-slack", [slack.secret]);

    const gone = await ingest.createEndpoint({
      url: sink.url("/gone"),
      eventTypes: ["order.paid"],
    });
    sink.setSecrets("/gone", [gone.secret]);
    sink.script("/gone", [{ status: 410 }]);
    const posted = await ingest.postEvent({ eventType: "order.paid", payload: { n: 1 } });
    expect(posted.status).toBe(202);

    const [disabled] = await sink.waitFor(1, { path: "/ops", timeoutMs: 20_000 });
    expect(disabled?.verified).toBe(true);
    expect(disabled?.webhookId).toMatch(new RegExp(`^ops_endpoint\\.disabled_${gone.id}_r\\d+$`));
    expect(disabled?.json).toMatchObject({
      type: "hookline.endpoint.disabled",
      data: {
        endpointId: gone.id,
        tenantId: "default",
        host: `127.0.0.1:${sink.port}`,
        reason: expect.stringMatching(/410/),
        summary: expect.stringContaining(gone.id),
        link: `http://localhost:8080/v1/tenants/default/endpoints/${gone.id}`,
      },
    });

    const [chat] = await sink.waitFor(1, { path: "/ops-slack", timeoutMs: 20_000 });
    // Signed like any webhook (Slack ignores the headers), under the same webhook-id.
    expect(chat?.verified).toBe(true);
    expect(chat?.webhookId).toBe(disabled?.webhookId);
    expect(chat?.headers["content-type"]).toMatch(/^application\/json/);
    const body = chat?.json as Record<string, unknown>;
    expect(Object.keys(body).every((key) => SLACK_WEBHOOK_FIELDS.has(key))).toBe(true);
    expect(typeof body.text).toBe("string");
    const text = String(body.text);
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain("\n");
    expect(isSlackMrkdwn(text)).toBe(true);
    expect(text).toContain(gone.id);
    expect(text).toContain(
      `<http://localhost:8080/v1/tenants/default/endpoints/${gone.id}|details>`,
    );

    // Enabled again through the API: the same watch says so.
    const patched = await ingest.request(`/v1/endpoints/${gone.id}`, {
      method: "PATCH",
      body: JSON.stringify({ disabled: false }),
    });
    expect(patched.status).toBe(200);
    const [, enabled] = await sink.waitFor(2, { path: "/ops", timeoutMs: 20_000 });
    expect(enabled?.verified).toBe(true);
    expect(enabled?.json).toMatchObject({
      type: "hookline.endpoint.enabled",
      data: { endpointId: gone.id },
    });
    // Each fact once: one disabled, one enabled, and the slack endpoint took only `disabled`.
    expect(sink.count("/ops")).toBe(2);
    expect(sink.count("/ops-slack")).toBe(1);
  });

  it("a storm of dead letters is one event per endpoint and window with its count, and crossing a threshold is announced", {
    timeout: 60_000,
  }, async () => {
    const { ingest, sink } = e2e;
    const operator = await operatorEndpoint({
      url: sink.url("/ops-dlq"),
      eventTypes: ["hookline.task.dead_lettered", "hookline.deadletters.threshold"],
    });
    sink.setSecrets("/ops-dlq", [operator.secret]);
    const refusing = await ingest.createEndpoint({
      url: sink.url("/refusing"),
      eventTypes: ["invoice.sent"],
    });
    // 400 is not retried: every task is dead-lettered at its first attempt.
    sink.setDefault("/refusing", { status: 400 });
    const storm = 20;
    const posted = await Promise.all(
      Array.from({ length: storm }, (_, n) =>
        ingest.postEvent({ eventType: "invoice.sent", payload: { n } }),
      ),
    );
    expect(posted.every((post) => post.status === 202)).toBe(true);

    const aggregated = () =>
      sink
        .deliveries("/ops-dlq")
        .map((delivery) => delivery.json as { type: string; data: Record<string, unknown> })
        .filter((body) => body.type === "hookline.task.dead_lettered")
        .filter((body) => body.data.endpointId === refusing.id);
    const counted = () => aggregated().reduce((sum, body) => sum + Number(body.data.count), 0);
    await pollUntil(async () => counted() >= storm, {
      timeoutMs: 30_000,
      what: `${storm} dead letters counted in task.dead_lettered events`,
      detail: () => JSON.stringify(aggregated()),
    });
    expect(counted()).toBe(storm);
    // Fewer events than letters: one per window the storm touched (it spans a 2 s window or two).
    const windows = aggregated().map((body) => String(body.data.from));
    expect(new Set(windows).size).toBe(windows.length);
    expect(windows.length).toBeLessThanOrEqual(2);
    expect(sink.deliveries("/ops-dlq").every((delivery) => delivery.verified)).toBe(true);

    await pollUntil(
      async () =>
        sink
          .deliveries("/ops-dlq")
          .some(
            (delivery) =>
              (delivery.json as { type: string }).type === "hookline.deadletters.threshold",
          ),
      {
        timeoutMs: 20_000,
        what: "deadletters.threshold",
        detail: () =>
          JSON.stringify(sink.deliveries("/ops-dlq").map((d) => d.json)) +
          e2e.stack.logs("dlq").slice(-20).join("\n"),
      },
    );
    const threshold = sink
      .deliveries("/ops-dlq")
      .map((delivery) => delivery.json as { type: string; data: Record<string, unknown> })
      .find((body) => body.type === "hookline.deadletters.threshold");
    expect(threshold?.data).toMatchObject({
      threshold: 10,
      open: expect.any(Number),
      link: "http://localhost:8083/v1/dead-letters?status=open",
    });
    expect(Number(threshold?.data.open)).toBeGreaterThanOrEqual(10);
  });

  it("a breaker opening and closing again is announced once each", {
    timeout: 60_000,
  }, async () => {
    const { ingest, sink } = e2e;
    const operator = await operatorEndpoint({
      url: sink.url("/ops-breaker"),
      eventTypes: ["hookline.breaker.opened", "hookline.breaker.closed"],
    });
    sink.setSecrets("/ops-breaker", [operator.secret]);
    const flaky = await ingest.createEndpoint({
      url: sink.url("/flaky"),
      eventTypes: ["report.ready"],
    });
    sink.setDefault("/flaky", { status: 503 });
    const post = async (n: number) =>
      expect((await ingest.postEvent({ eventType: "report.ready", payload: { n } })).status).toBe(
        202,
      );
    for (let n = 0; n < 6; n++) await post(n);
    const kinds = () =>
      sink
        .deliveries("/ops-breaker")
        .map((delivery) => delivery.json as { type: string; data: Record<string, unknown> })
        .filter((body) => body.data.endpointId === flaky.id)
        .map((body) => body.type);
    await pollUntil(async () => kinds().includes("hookline.breaker.opened"), {
      timeoutMs: 20_000,
      what: "breaker.opened",
    });

    // The endpoint recovers: once the breaker lets a probe through, it closes.
    sink.setDefault("/flaky", { status: 200 });
    let n = 100;
    await pollUntil(
      async () => {
        await post(n++);
        return kinds().includes("hookline.breaker.closed");
      },
      { timeoutMs: 20_000, intervalMs: 500, what: "breaker.closed" },
    );
    expect(kinds()).toEqual(["hookline.breaker.opened", "hookline.breaker.closed"]);
    expect(sink.deliveries("/ops-breaker").every((delivery) => delivery.verified)).toBe(true);
  });

  it("an endpoint whose attempts fail past a threshold is announced with its severity", {
    timeout: 60_000,
  }, async () => {
    const { ingest, sink } = e2e;
    const operator = await operatorEndpoint({
      url: sink.url("/ops-rate"),
      eventTypes: ["hookline.endpoint.failure_rate"],
    });
    sink.setSecrets("/ops-rate", [operator.secret]);
    const failing = await ingest.createEndpoint({
      url: sink.url("/failing"),
      eventTypes: ["stock.low"],
    });
    sink.setDefault("/failing", { status: 500 });
    for (let n = 0; n < 6; n++) {
      expect((await ingest.postEvent({ eventType: "stock.low", payload: { n } })).status).toBe(202);
    }
    const rates = () =>
      sink
        .deliveries("/ops-rate")
        .map((delivery) => delivery.json as { data: Record<string, unknown> })
        .filter((body) => body.data.endpointId === failing.id);
    await pollUntil(async () => rates().length > 0, {
      timeoutMs: 30_000,
      what: "endpoint.failure_rate for the failing endpoint",
    });
    // Every attempt failed: the rate went from nothing past both thresholds at once, so the
    // event names the higher one.
    expect(rates()[0]?.data).toMatchObject({
      endpointId: failing.id,
      tenantId: "default",
      rate: 1,
      threshold: 0.5,
      severity: "critical",
      window: "5m",
      link: `http://localhost:8083/v1/attempts?endpointId=${failing.id}`,
    });
    expect(Number(rates()[0]?.data.attempts)).toBeGreaterThanOrEqual(5);
    expect(sink.deliveries("/ops-rate").every((delivery) => delivery.verified)).toBe(true);
  });
});
