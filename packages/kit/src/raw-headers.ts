import type { JsMsg } from "@nats-io/jetstream";

interface RawMsg {
  msg?: { _rdata?: unknown; _msg?: { hdr?: unknown } };
}

/**
 * The header bytes of a pulled message, where nats.js 3.3 keeps them (`msg._rdata`, header
 * length `msg._msg.hdr`); undefined anywhere else, and callers then read `msg.headers`. The hot
 * paths (delivery's tasks, the classifier's released retries) read a few headers from these
 * bytes in one pass instead of through nats.js's MsgHdrs, their largest allocator. This is the
 * one place that knows nats.js's internals; its test fails if a nats.js upgrade moves them.
 */
export function rawHeaderBytes(msg: JsMsg): Uint8Array | undefined {
  const inner = (msg as unknown as RawMsg).msg;
  const data = inner?._rdata;
  const length = inner?._msg?.hdr;
  if (data instanceof Uint8Array && typeof length === "number" && length > 0) {
    return data.subarray(0, length);
  }
  return undefined;
}
