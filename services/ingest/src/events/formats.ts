import type { EndpointFormat } from "@hookline/contracts";

/** What a chat message says about one event. */
export interface ChatMessage {
  /** One readable line, plain text. */
  line: string;
  link?: { url: string; label: string } | undefined;
}

/** Slack accepts 40,000 characters of text, but truncates a message's display long before. */
export const SLACK_MAX_TEXT = 3_000;
/** Discord refuses a `content` longer than 2,000 characters. */
export const DISCORD_MAX_CONTENT = 2_000;

const ELLIPSIS = "…";

function clipped(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - ELLIPSIS.length) + ELLIPSIS;
}

/** Slack mrkdwn treats &, < and > as control characters: escape them, as its docs ask. */
function slackEscaped(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * Slack's incoming webhook body: `{"text": …}` in mrkdwn, a link as `<url|label>`. The link goes
 * last and is never clipped; a URL holding `|` or `>` could not be written, so it is left out.
 */
export function slackBody(message: ChatMessage): string {
  const link =
    message.link !== undefined && !/[|<>\s]/.test(message.link.url)
      ? ` <${message.link.url}|${slackEscaped(message.link.label)}>`
      : "";
  const text = clipped(slackEscaped(message.line), SLACK_MAX_TEXT - link.length) + link;
  return JSON.stringify({ text });
}

/**
 * Discord's incoming webhook body: `{"content": …}` (markdown, at most 2,000 characters), with
 * mentions switched off so that no event's text can ping @everyone.
 */
export function discordBody(message: ChatMessage): string {
  const link =
    message.link !== undefined && !/[()\s]/.test(message.link.url)
      ? ` [${message.link.label.replaceAll(/[[\]]/g, "")}](${message.link.url})`
      : "";
  const content = clipped(message.line, DISCORD_MAX_CONTENT - link.length) + link;
  return JSON.stringify({ content, allowed_mentions: { parse: [] } });
}

export function chatBody(format: Exclude<EndpointFormat, "standard">, message: ChatMessage) {
  return format === "slack" ? slackBody(message) : discordBody(message);
}

/**
 * The line for an event: an operational event (the system tenant's) says what happened in its
 * `summary` and points to its `link`; any other event is named by its type and id.
 */
export function chatMessageOf(event: {
  eventType: string;
  eventId: string;
  payload: unknown;
  system: boolean;
}): ChatMessage {
  const payload = event.payload;
  if (event.system && typeof payload === "object" && payload !== null) {
    const { summary, link } = payload as { summary?: unknown; link?: unknown };
    if (typeof summary === "string") {
      return {
        line: `${event.eventType}: ${summary}`,
        link: typeof link === "string" ? { url: link, label: "details" } : undefined,
      };
    }
  }
  return { line: `Event ${event.eventType} (${event.eventId})` };
}
