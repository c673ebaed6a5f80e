import { rawHeaderBytes } from "@hookline/kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";

/** What reading a task needs of its headers: contracts' decodeTask only calls get(). */
export type HeaderReader = Pick<MsgHdrs, "get">;

const decoder = new TextDecoder();
const HEAD = "NATS/1.0\r\n";

/**
 * Header values by name, first value wins, read as nats.js reads them (`MsgHdrsImpl.decode`:
 * lines split on CRLF, the name before the first colon, the value after it trimmed); undefined
 * where nats.js would do something else (a status line, a name it refuses), so the caller
 * leaves those to nats.js. Its reader checks every name character by character and scans all
 * names for each one, which with a task's dozen headers was the largest allocator of delivery
 * (about a third of what its garbage collector cleared).
 */
export function parseHeaders(raw: Uint8Array): Map<string, string> | undefined {
  const text = decoder.decode(raw);
  if (!text.startsWith(HEAD)) return undefined;
  const values = new Map<string, string>();
  let at = HEAD.length;
  while (at < text.length) {
    let end = text.indexOf("\r\n", at);
    if (end < 0) end = text.length;
    const colon = text.indexOf(":", at);
    if (colon >= at && colon < end) {
      const name = text.slice(at, colon);
      for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        if (c < 33 || c > 126) return undefined; // nats.js throws on it: let it
      }
      const value = text.slice(colon + 1, end);
      if (value.includes("\r") || value.includes("\n")) return undefined; // refused as well
      if (!values.has(name)) values.set(name, value.trim());
    }
    at = end + 2;
  }
  return values;
}

/**
 * The headers of a pulled task for decodeTask: read from the message's bytes (kit's
 * rawHeaderBytes) when nats.js keeps them there; otherwise, or when they hold anything unusual,
 * from `msg.headers` as before.
 */
export function taskHeaders(msg: JsMsg): HeaderReader | undefined {
  const block = rawHeaderBytes(msg);
  if (block) {
    const values = parseHeaders(block);
    if (values) return { get: (name) => values.get(name) ?? "" };
  }
  return msg.headers;
}
