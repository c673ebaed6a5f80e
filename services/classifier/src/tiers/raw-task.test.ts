import {
  decodeTask,
  encodeTask,
  Header,
  type TaskMeta,
  taskHeaderBlock,
} from "@hookline/contracts";
import { headers as natsHeaders } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { passMsgId } from "../message-ids";
import { rawTaskBlock, readRawTask } from "./raw-task";

const task: TaskMeta = {
  taskId: "evt_1:ep_01HZX8Y5K3M7Q9R2T4V6W8Y0AB",
  eventId: "evt_1",
  eventType: "order.created",
  endpointId: "ep_01HZX8Y5K3M7Q9R2T4V6W8Y0AB",
  attempt: 2,
  deferrals: 1,
  createdAt: 1_700_000_000_000,
  deadline: 1_700_086_400_000,
  notBefore: 1_700_000_005_000,
  history: [
    { n: 1, at: 1_700_000_000_100, result: "http_error", status: 500, ms: 12 },
    { n: 2, at: 1_700_000_001_100, result: "timeout", error: "ünïcode", ms: 10_000 },
  ],
  replayOf: "dlq-7",
};

const decodeBlock = (block: Uint8Array) => {
  const h = natsHeaders();
  // MsgHdrsImpl.decode is static in nats-core
  const decoded = (h.constructor as unknown as { decode(a: Uint8Array): typeof h }).decode(block);
  return decoded;
};

describe("readRawTask", () => {
  it("reads what decodeTask reads and writes what encodeTask writes, but for the Nats-Msg-Id", () => {
    for (const meta of [
      task,
      { ...task, tenantId: "acme-1.eu_west" },
      { ...task, history: undefined, replayOf: undefined, notBefore: undefined },
    ]) {
      const raw = readRawTask(taskHeaderBlock(meta, "old#1@3"));
      expect(raw).toBeDefined();
      if (!raw) return;
      expect(raw.notBefore).toBe(meta.notBefore);
      expect(raw.endpointId).toBe(meta.endpointId);
      const id = passMsgId(raw, 42);
      expect(id).toBe(passMsgId(meta, 42));
      const block = rawTaskBlock(raw, id);
      expect(Buffer.from(block).toString()).toBe(Buffer.from(taskHeaderBlock(meta, id)).toString());
      const again = decodeTask(decodeBlock(block));
      expect(again).toEqual(decodeTask(encodeTask(meta, id)));
      expect(decodeBlock(block).get(Header.msgId)).toBe(id);
    }
  });

  it("adds a Nats-Msg-Id when the block has none, keeping every other line", () => {
    const text = Buffer.from(taskHeaderBlock(task, "x"))
      .toString()
      .replace("Nats-Msg-Id: x\r\n", "");
    const raw = readRawTask(Buffer.from(text));
    expect(raw).toBeDefined();
    if (!raw) return;
    const block = decodeBlock(rawTaskBlock(raw, "new"));
    expect(block.get(Header.msgId)).toBe("new");
    expect(decodeTask(block)).toEqual(decodeTask(encodeTask(task, "new")));
  });

  it("keeps the tenant line as it was", () => {
    const meta: TaskMeta = { ...task, tenantId: "acme" };
    const raw = readRawTask(taskHeaderBlock(meta, "old"));
    expect(raw).toBeDefined();
    if (!raw) return;
    const block = decodeBlock(rawTaskBlock(raw, "new"));
    expect(block.get(Header.tenantId)).toBe("acme");
    const decoded = decodeTask(block);
    expect(decoded.ok && decoded.value.tenantId).toBe("acme");
  });

  it("accepts a tenant id only when decodeTask does, and then reads the same task", () => {
    const tenantChars = "abcXYZ019_.-~ /:é";
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: fc.constantFrom(...tenantChars), minLength: 1, maxLength: 70 }),
          fc.constantFrom(".", "..", "...", "a".repeat(64), "a".repeat(65), "default"),
        ),
        (tenant) => {
          const text = Buffer.from(taskHeaderBlock(task, "old"))
            .toString()
            .replace(
              "\r\nHookline-Attempt:",
              `\r\nHookline-Tenant-Id: ${tenant}\r\nHookline-Attempt:`,
            );
          const raw = readRawTask(Buffer.from(text));
          const decoded = decodeTask(decodeBlock(Buffer.from(text)));
          if (raw === undefined) {
            // Refused here: fine either way, the decode path judges it. But a valid id must pass.
            if (decoded.ok && decoded.value.tenantId === tenant) {
              expect.fail(`a valid tenant id was refused: ${JSON.stringify(tenant)}`);
            }
            return;
          }
          expect(decoded.ok).toBe(true);
          const again = decodeTask(decodeBlock(rawTaskBlock(raw, "new")));
          expect(again).toEqual(
            decodeTask(encodeTask({ ...task, tenantId: tenant.trim() }, "new")),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  const variants: [string, (text: string) => string][] = [
    ["an unknown header", (t) => t.replace("\r\n\r\n", "\r\nNats-Expected-Stream: X\r\n\r\n")],
    ["a duplicate header", (t) => t.replace("\r\n\r\n", "\r\nHookline-Attempt: 3\r\n\r\n")],
    ["an empty value", (t) => t.replace("Hookline-Replay-Of: dlq-7", "Hookline-Replay-Of: ")],
    ["a bad count", (t) => t.replace("Hookline-Attempt: 2", "Hookline-Attempt: two")],
    ["a bad endpoint id", (t) => t.replaceAll("ep_01HZX8Y5K3M7Q9R2T4V6W8Y0AB", "ep_x")],
    ["a bad not-before", (t) => t.replace("Hookline-Not-Before: 1", "Hookline-Not-Before: -1")],
    ["a missing field", (t) => t.replace(/Hookline-Deadline: \d+\r\n/, "")],
    ["a status line", (t) => t.replace("NATS/1.0\r\n", "NATS/1.0 503\r\n")],
    [
      "history that is not JSON",
      (t) => t.replace(/Hookline-History: .*?\r\n/, "Hookline-History: [\r\n"),
    ],
    ["history with an unknown key", (t) => t.replace('"ms":12', '"ms":12,"x":1')],
    ["history with a bad result", (t) => t.replace("http_error", "nope")],
    ["history with a bad status", (t) => t.replace('"status":500', '"status":99')],
    // Number.isInteger takes 2^60; zod's int(), and so decodeTask, does not.
    ["history with a count past safe integers", (t) => t.replace('"n":1', `"n":${2 ** 60}`)],
    ["a lone line feed", (t) => t.replace("order.created", "order\ncreated")],
    ["a bad tenant id", (t) => t.replace("\r\n\r\n", "\r\nHookline-Tenant-Id: a/b\r\n\r\n")],
    ["the tenant id ..", (t) => t.replace("\r\n\r\n", "\r\nHookline-Tenant-Id: ..\r\n\r\n")],
    [
      "two tenant ids",
      (t) => t.replace("\r\n\r\n", "\r\nHookline-Tenant-Id: a\r\nHookline-Tenant-Id: b\r\n\r\n"),
    ],
  ];
  it.each(variants)("leaves a block with %s to decodeTask", (_, change) => {
    const text = change(Buffer.from(taskHeaderBlock(task, "old")).toString());
    expect(readRawTask(Buffer.from(text))).toBeUndefined();
  });
});
