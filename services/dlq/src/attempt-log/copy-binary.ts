/**
 * Rows in PostgreSQL's binary COPY format (`copy … from stdin (format binary)`), written
 * straight into one buffer: no text to escape on our side, none to parse on Postgres's.
 * Each tuple is a field count, then each field as a 4-byte length (-1 for null) and its bytes.
 */
export class BinaryCopyWriter {
  private buffer: Buffer;
  private offset = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(initialBytes, SIGNATURE.length + 8));
    SIGNATURE.copy(this.buffer, 0);
    // Flags and header extension length: both zero.
    this.buffer.writeUInt32BE(0, SIGNATURE.length);
    this.buffer.writeUInt32BE(0, SIGNATURE.length + 4);
    this.offset = SIGNATURE.length + 8;
  }

  /** Starts a tuple of `fields` fields. */
  tuple(fields: number): void {
    this.reserve(2);
    this.offset = this.buffer.writeInt16BE(fields, this.offset);
  }

  null(): void {
    this.reserve(4);
    this.offset = this.buffer.writeInt32BE(-1, this.offset);
  }

  text(value: string | null | undefined): void {
    if (value == null) {
      this.null();
      return;
    }
    // UTF-8 takes at most three bytes per UTF-16 unit.
    this.reserve(4 + value.length * 3);
    const written = this.buffer.write(value, this.offset + 4, "utf8");
    this.buffer.writeInt32BE(written, this.offset);
    this.offset += 4 + written;
  }

  int4(value: number | null | undefined): void {
    if (value == null) {
      this.null();
      return;
    }
    this.reserve(8);
    this.offset = this.buffer.writeInt32BE(4, this.offset);
    this.offset = this.buffer.writeInt32BE(value, this.offset);
  }

  /** A timestamptz from epoch milliseconds: microseconds since 2000-01-01 as an int8. */
  timestamp(epochMs: number | null | undefined): void {
    if (epochMs == null) {
      this.null();
      return;
    }
    const micros = (epochMs - POSTGRES_EPOCH_MS) * 1000;
    const high = Math.floor(micros / TWO_TO_32);
    this.reserve(12);
    this.offset = this.buffer.writeInt32BE(8, this.offset);
    this.offset = this.buffer.writeInt32BE(high, this.offset);
    this.offset = this.buffer.writeUInt32BE(micros - high * TWO_TO_32, this.offset);
  }

  bytes(value: Uint8Array | null | undefined): void {
    if (value == null) {
      this.null();
      return;
    }
    this.reserve(4 + value.byteLength);
    this.offset = this.buffer.writeInt32BE(value.byteLength, this.offset);
    this.buffer.set(value, this.offset);
    this.offset += value.byteLength;
  }

  /** The whole COPY data, trailer included. The writer is done. */
  finish(): Buffer {
    this.reserve(2);
    this.offset = this.buffer.writeInt16BE(-1, this.offset);
    return this.buffer.subarray(0, this.offset);
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }
}

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_TO_32 = 2 ** 32;
