import { Header } from "@hookline/contracts";
import { headers, MsgHdrsImpl } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseHeaders } from "./task-headers";

const bytes = (text: string) => new TextEncoder().encode(text);

/** Every name either reader sees, compared value by value (first value, as get() gives). */
function expectSameAsNats(raw: Uint8Array) {
  let theirs: MsgHdrsImpl;
  try {
    theirs = MsgHdrsImpl.decode(raw);
  } catch {
    expect(parseHeaders(raw)).toBeUndefined();
    return;
  }
  const ours = parseHeaders(raw);
  if (ours === undefined) return; // left to nats.js
  expect([...ours.keys()].sort()).toEqual(theirs.keys().sort());
  for (const name of theirs.keys()) expect(ours.get(name)).toBe(theirs.get(name));
}

describe("parseHeaders", () => {
  it("reads a task's headers as nats.js does", () => {
    const h = headers();
    h.set(Header.msgId, "evt_1:ep_1");
    h.set(Header.taskId, "evt_1:ep_1");
    h.set(Header.eventType, "order.created");
    h.set(Header.history, JSON.stringify([{ n: 1, at: 2, result: "timeout", ms: 3 }]));
    h.append("X-Twice", "first");
    h.append("X-Twice", "second");
    const raw = (h as MsgHdrsImpl).encode();
    expect(parseHeaders(raw)?.get(Header.eventType)).toBe("order.created");
    expect(parseHeaders(raw)?.get("X-Twice")).toBe("first");
    expectSameAsNats(raw);
  });

  it("agrees with nats.js on any headers it writes", () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^[!-9;-~]+$/.test(s));
    const value = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 12 }), (pairs) => {
        const h = headers();
        for (const [k, v] of pairs) h.append(k, v);
        expectSameAsNats((h as MsgHdrsImpl).encode());
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with nats.js on odd bytes, or leaves them to it", () => {
    const piece = fc.constantFrom("\r\n", ":", " ", "a", "B-c", "\t", "é", "\r", "\n", "x: y");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        expectSameAsNats(bytes(`NATS/1.0\r\n${pieces.join("")}\r\n\r\n`));
      }),
      { numRuns: 1_000 },
    );
  });

  it("leaves a status line to nats.js", () => {
    expect(parseHeaders(bytes("NATS/1.0 408 Request Timeout\r\n\r\n"))).toBeUndefined();
  });
});
