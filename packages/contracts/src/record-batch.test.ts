import { MsgHdrsImpl, headers as natsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { Header } from "./headers";
import { decodeOutcome, encodeOutcome, type OutcomeMeta } from "./messages";
import {
  decodeRecordBatch,
  encodeRecordBatch,
  recordCount,
  recordsOfMessage,
} from "./record-batch";

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const frame = (n: number, data = "") => ({
  headers: bytes(`NATS/1.0\r\n${Header.taskId}: t${n}\r\n\r\n`),
  data: bytes(data),
});

describe("record batches", () => {
  it("gives back every record's header block and data, empty data included", () => {
    const frames = [frame(1, '{"a":1}'), frame(2), frame(3, "é".repeat(300))];
    const batch = encodeRecordBatch(frames);
    const decoded = decodeRecordBatch(batch.data, 3);
    expect(decoded).toEqual({ ok: true, frames });
  });

  it("says how many in a header nats.js reads", () => {
    const { headers } = encodeRecordBatch([frame(1), frame(2)]);
    const text = Buffer.from(headers).toString("latin1");
    const parsed = natsHeaders();
    for (const line of text.split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) parsed.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    expect(text.startsWith("NATS/1.0\r\n")).toBe(true);
    expect(text.endsWith("\r\n\r\n")).toBe(true);
    expect(recordCount(parsed.get(Header.records))).toBe(2);
  });

  it("refuses data cut short, or holding another number of records than the header says", () => {
    const { data } = encodeRecordBatch([frame(1, "abc"), frame(2, "def")]);
    expect(decodeRecordBatch(data.subarray(0, data.byteLength - 1), 2)).toEqual({
      ok: false,
      error: "record 2: data cut off",
    });
    expect(decodeRecordBatch(data.subarray(0, 2), 2)).toMatchObject({ ok: false });
    expect(decodeRecordBatch(data, 3)).toEqual({
      ok: false,
      error: "Hookline-Records says 3, the data holds 2",
    });
  });

  it("reads a count only from a plain positive number", () => {
    expect(recordCount("12")).toBe(12);
    for (const value of [undefined, "", "0", "-1", "1.5", "01", " 2", "1234567"]) {
      expect(recordCount(value)).toBeUndefined();
    }
  });

  it("gives every record of a message with its headers as nats.js reads them", () => {
    const outcome = (n: number): OutcomeMeta => ({
      taskId: `evt_${n}:ep`,
      eventId: `evt_${n}`,
      eventType: "order.created",
      endpointId: "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D",
      tenantId: "acme",
      attempt: 1,
      deferrals: 0,
      createdAt: 1_750_000_000_000 + n,
      deadline: 1_750_086_400_000,
      history: [{ n: 1, at: 1_750_000_000_100 + n, result: "delivered", ms: 12, status: 200 }],
      result: "delivered",
      status: 200,
      durationMs: 12,
      responseBody: `ok ${n}`,
    });
    const metas = [outcome(1), outcome(2), outcome(3)];
    const encoded = metas.map((meta, i) => encodeOutcome(meta, `${meta.taskId}#1@${i}`));
    const batch = encodeRecordBatch(
      encoded.map((h, i) => ({
        headers: (h as MsgHdrsImpl).encode(),
        data: bytes(i === 1 ? "" : `body ${i}`),
      })),
    );
    const read = recordsOfMessage({ headers: MsgHdrsImpl.decode(batch.headers), data: batch.data });
    if (!read.ok) throw new Error(read.error);
    expect(read.value.map((record) => decodeOutcome(record.headers))).toEqual(
      metas.map((meta) => ({ ok: true, value: meta })),
    );
    expect(read.value.map((record) => Buffer.from(record.data).toString())).toEqual([
      "body 0",
      "",
      "body 2",
    ]);

    // A message that is one record is itself.
    const alone = recordsOfMessage({ headers: encoded[0], data: bytes("x") });
    expect(alone).toEqual({ ok: true, value: [{ headers: encoded[0], data: bytes("x") }] });
  });
});
