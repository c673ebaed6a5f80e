import { pollUntil } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";

/**
 * Operational events: Hookline tells operator endpoints (tenant `hookline`) about itself through
 * its own pipeline, signed like any webhook; a `slack` endpoint gets Slack's incoming-webhook body.
 */
let e2e: E2eStack;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "e2eops",
    services: ["ingest", "delivery", "classifier"],
    env: { RETRY_SCHEDULE: "200ms", RETRY_TIERS: "200ms,1s", RETRY_JITTER: "0" },
  });
});

afterAll(async () => {
  await e2e?.stop();
});

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
    // Ingest creates the system tenant at start; an operator subscribes like any endpoint.
    let operator: { id: string; secret: string } | undefined;
    await pollUntil(
      async () => {
        operator = await ingest
          .createTenantEndpoint("hookline", {
            url: sink.url("/ops"),
            eventTypes: ["hookline.endpoint.disabled", "hookline.endpoint.enabled"],
          })
          .catch(() => undefined);
        return operator !== undefined;
      },
      { timeoutMs: 10_000, what: "the hookline tenant to take an endpoint" },
    );
    if (operator === undefined) throw new Error("no operator endpoint");
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
});
