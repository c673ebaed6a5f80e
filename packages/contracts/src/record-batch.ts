import { type MsgHdrs, MsgHdrsImpl } from "@nats-io/transport-node";
import { Header } from "./headers";
import { type Decoded, decodeOutcome, type OutcomeMeta } from "./messages";

/** One attempt-log record: its encoded NATS header block and its data (the body, or none). */
export interface RecordFrame {
  headers: Uint8Array;
  data: Uint8Array;
}

/**
 * Publishers start another batch before one would pass this (NATS's max_payload is 1 MiB by
 * default); readers bound what a pull holds by it.
 */
export const RECORD_BATCH_MAX_BYTES = 256 * 1024;

/**
 * Several success records of one endpoint in ONE ATTEMPTS message: delivery publishes what a
 * write turn finished together, so JetStream stores, and the dlq pulls and acks, one message
 * per turn instead of one per success. The message's headers say how many
 * (`Hookline-Records`); its data is each record in turn as a 4-byte big-endian length and its
 * header block (what the record would carry as a message of its own), then a 4-byte length and
 * its data.
 */
export function encodeRecordBatch(frames: readonly RecordFrame[]): {
  headers: Uint8Array;
  data: Uint8Array;
} {
  let size = 0;
  for (const frame of frames) size += 8 + frame.headers.byteLength + frame.data.byteLength;
  const data = Buffer.allocUnsafe(size);
  let at = 0;
  for (const frame of frames) {
    at = data.writeUInt32BE(frame.headers.byteLength, at);
    data.set(frame.headers, at);
    at += frame.headers.byteLength;
    at = data.writeUInt32BE(frame.data.byteLength, at);
    data.set(frame.data, at);
    at += frame.data.byteLength;
  }
  return { headers: recordBatchHeaders(frames.length), data };
}

/** The header block of a batch of `count` records. */
function recordBatchHeaders(count: number): Uint8Array {
  return Buffer.from(`NATS/1.0\r\n${Header.records}: ${count}\r\n\r\n`, "latin1");
}

export type DecodedRecordBatch = { ok: true; frames: RecordFrame[] } | { ok: false; error: string };

/** The records of a batch whose `Hookline-Records` header said `count`, as views of `data`. */
export function decodeRecordBatch(data: Uint8Array, count: number): DecodedRecordBatch {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const frames: RecordFrame[] = [];
  let at = 0;
  const part = (what: string): Uint8Array | string => {
    if (at + 4 > data.byteLength) return `record ${frames.length + 1}: ${what} length cut off`;
    const length = view.getUint32(at);
    at += 4;
    if (at + length > data.byteLength) return `record ${frames.length + 1}: ${what} cut off`;
    const bytes = new Uint8Array(data.buffer, data.byteOffset + at, length);
    at += length;
    return bytes;
  };
  while (at < data.byteLength) {
    const headers = part("header block");
    if (typeof headers === "string") return { ok: false, error: headers };
    const body = part("data");
    if (typeof body === "string") return { ok: false, error: body };
    frames.push({ headers, data: body });
  }
  if (frames.length !== count) {
    return { ok: false, error: `${Header.records} says ${count}, the data holds ${frames.length}` };
  }
  return { ok: true, frames };
}

/** `Hookline-Records`'s value as a count, or undefined when it is not one (≥ 1). */
export function recordCount(value: string | undefined): number | undefined {
  if (value === undefined || !/^[1-9]\d{0,5}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Every record an ATTEMPTS message holds, each with its headers as nats.js reads them: the
 * message itself, or a record batch's records. For readers that go through MsgHdrs (tests,
 * tools); the dlq reads the bytes itself.
 */
export function recordsOfMessage(msg: {
  headers?: MsgHdrs | undefined;
  data: Uint8Array;
}): Decoded<{ headers: MsgHdrs; data: Uint8Array }[]> {
  if (msg.headers === undefined) return { ok: false, error: "the message has no headers" };
  // MsgHdrs.get answers "" for a header that is not there: a record on its own.
  const countValue = msg.headers.get(Header.records);
  if (countValue === "") return { ok: true, value: [{ headers: msg.headers, data: msg.data }] };
  const count = recordCount(countValue);
  if (count === undefined) return { ok: false, error: `${Header.records}: invalid` };
  const batch = decodeRecordBatch(msg.data, count);
  if (!batch.ok) return batch;
  return {
    ok: true,
    value: batch.frames.map((frame) => ({
      headers: MsgHdrsImpl.decode(frame.headers),
      data: frame.data,
    })),
  };
}

/** The success outcomes an `outcome.delivered.*` message holds: one, or a record batch's. */
export function decodeDeliveredOutcomes(msg: {
  headers?: MsgHdrs | undefined;
  data: Uint8Array;
}): Decoded<OutcomeMeta[]> {
  const records = recordsOfMessage(msg);
  if (!records.ok) return records;
  const outcomes: OutcomeMeta[] = [];
  for (const record of records.value) {
    const decoded = decodeOutcome(record.headers);
    if (!decoded.ok) return decoded;
    outcomes.push(decoded.value);
  }
  return { ok: true, value: outcomes };
}
