import type { JsMsg } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { streamSequence } from "./stream-sequence";

/** Just what streamSequence reads: the reply, and msg.seq as nats.js parses it. */
const message = (reply: string, seq = -1) => ({ reply, seq }) as unknown as JsMsg;

describe("streamSequence", () => {
  it("reads the stream sequence of nats-server 2.9's ack subjects", () => {
    expect(
      streamSequence(
        message("$JS.ACK.P_ATTEMPTS.dlq-attempts.1.12345.12000.1732980000000000000.7"),
      ),
    ).toBe(12345);
  });

  it("reads it after a domain and an account, with or without a last token", () => {
    expect(
      streamSequence(
        message("$JS.ACK._.ACC.P_ATTEMPTS.dlq-attempts.2.987.654.1732980000000000000.0"),
      ),
    ).toBe(987);
    expect(streamSequence(message("$JS.ACK.hub.ACC.S.C.1.42.43.1732980000000000000.0.xyz"))).toBe(
      42,
    );
  });

  it("asks nats.js for anything else", () => {
    expect(streamSequence(message("_INBOX.abc.def", 5))).toBe(5);
    expect(streamSequence(message("$JS.ACK.S.C.1.x1.2.3.4", 6))).toBe(6);
    expect(streamSequence(message("$JS.ACK.S.C.1..2.3.4", 7))).toBe(7);
  });
});
