import { describe, expect, it } from "vitest";
import {
  chatMessageOf,
  DISCORD_MAX_CONTENT,
  discordBody,
  SLACK_MAX_TEXT,
  slackBody,
} from "./formats";

const disabled = {
  eventType: "hookline.endpoint.disabled",
  eventId: "ops_endpoint.disabled_ep_1_r3",
  payload: {
    endpointId: "ep_1",
    summary: "endpoint ep_1 of tenant acme was disabled: answered 410 Gone",
    link: "https://ingest.example.com/v1/tenants/acme/endpoints/ep_1",
  },
  system: true,
};

describe("chat formats", () => {
  it("writes Slack's incoming-webhook body: text only, mrkdwn escaped, the link as <url|label>", () => {
    const body = JSON.parse(
      slackBody({ line: "a <b> & c", link: { url: "https://x.example/a?b=1", label: "details" } }),
    );
    expect(body).toEqual({ text: "a &lt;b&gt; &amp; c <https://x.example/a?b=1|details>" });
  });

  it("keeps Slack's text within bounds, the link whole at the end, and leaves out a link it can't write", () => {
    const link = { url: "https://x.example/a", label: "details" };
    const text = JSON.parse(slackBody({ line: "x".repeat(10_000), link })).text as string;
    expect(text.length).toBe(SLACK_MAX_TEXT);
    expect(text.endsWith("… <https://x.example/a|details>")).toBe(true);
    const odd = JSON.parse(slackBody({ line: "hi", link: { url: "https://x|y", label: "l" } }));
    expect(odd).toEqual({ text: "hi" });
  });

  it("writes Discord's body: content at most 2,000 characters, a markdown link, no mentions", () => {
    const link = { url: "https://x.example/a", label: "details" };
    const body = JSON.parse(discordBody({ line: "@everyone hi", link }));
    expect(body).toEqual({
      content: "@everyone hi [details](https://x.example/a)",
      allowed_mentions: { parse: [] },
    });
    const long = JSON.parse(discordBody({ line: "x".repeat(5_000), link })).content as string;
    expect(long.length).toBe(DISCORD_MAX_CONTENT);
  });

  it("says what an operational event is about, and names any other event by type and id", () => {
    expect(chatMessageOf(disabled)).toEqual({
      line: "hookline.endpoint.disabled: endpoint ep_1 of tenant acme was disabled: answered 410 Gone",
      link: { url: disabled.payload.link, label: "details" },
    });
    // Only the system tenant's events speak for themselves: a customer's summary is its data.
    expect(chatMessageOf({ ...disabled, system: false })).toEqual({
      line: "Event hookline.endpoint.disabled (ops_endpoint.disabled_ep_1_r3)",
    });
    expect(
      chatMessageOf({ eventType: "order.created", eventId: "evt_1", payload: 7, system: true }),
    ).toEqual({ line: "Event order.created (evt_1)" });
  });
});
