import type { JsMsg } from "@nats-io/jetstream";

/**
 * A pulled message's stream sequence, read from its ack subject without nats.js's msg.seq,
 * which parses (and keeps) every field of it: `$JS.ACK.<stream>.<consumer>.<delivered>.<seq>.
 * <delivery seq>.<time>.<pending>` (nats-server 2.9), or with `<domain>.<account>` after ACK
 * and maybe a last token (2.10+). msg.seq when the subject is not one of those.
 */
export function streamSequence(msg: JsMsg): number {
  // nats.js's JsMsgImpl has it; its JsMsg type does not.
  const reply = (msg as unknown as { reply?: unknown }).reply;
  if (typeof reply !== "string") return msg.seq;
  // The dots before each token: the sequence is token 5 of 9, or token 7 of 11 or more.
  let tokens = 1;
  let fifth = -1;
  let seventh = -1;
  for (let dot = reply.indexOf("."); dot >= 0; dot = reply.indexOf(".", dot + 1)) {
    tokens++;
    if (tokens === 6) fifth = dot;
    else if (tokens === 8) seventh = dot;
  }
  const before = tokens === 9 ? fifth : tokens >= 11 ? seventh : -1;
  if (before < 0 || !reply.startsWith("$JS.ACK.")) return msg.seq;
  let seq = 0;
  let at = before + 1;
  for (; at < reply.length; at++) {
    const digit = reply.charCodeAt(at) - 48;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
  }
  return at > before + 1 && reply.charCodeAt(at) === 46 ? seq : msg.seq;
}
