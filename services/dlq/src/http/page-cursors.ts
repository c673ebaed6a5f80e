import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { z } from "zod";

/**
 * Page cursors of every list the API pages: `base64url(JSON position) "." base64url(MAC)`, the
 * MAC an HMAC-SHA256 over the list's name and the payload. Opaque to clients and
 * tamper-evident, so a forged position is a 400 rather than a query over arbitrary values, and
 * a cursor issued for one list is refused by every other.
 */
export interface PageCursors {
  sign(list: string, payload: unknown): string;
  /** The payload, parsed JSON, if this service signed the cursor for this list. */
  open(list: string, cursor: string): unknown;
}

/** The position of one list's order, to and from its cursor. */
export interface CursorCodec<Position> {
  encode(position: Position): string;
  /** undefined for anything this service did not issue for this list, or that was altered. */
  decode(cursor: string): Position | undefined;
}

const MAC_BYTES = 16;
/** Longer than any cursor issued (the longest, an attempt's, is ~620 characters). */
const MAX_CURSOR_CHARS = 1_200;

export function createPageCursors(key: Buffer): PageCursors {
  const mac = (list: string, payload: string) =>
    createHmac("sha256", key)
      .update(`${list}\u0000${payload}`)
      .digest()
      .subarray(0, MAC_BYTES)
      .toString("base64url");
  return {
    sign(list, payload) {
      const encoded = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
      return `${encoded}.${mac(list, encoded)}`;
    },
    open(list, cursor) {
      if (cursor.length > MAX_CURSOR_CHARS) return undefined;
      const [payload, signature, ...rest] = cursor.split(".");
      if (payload === undefined || signature === undefined || rest.length > 0) return undefined;
      // Compared as text: base64 decoding is lenient, and only the canonical form is ours.
      const presented = Buffer.from(signature, "utf8");
      const expected = Buffer.from(mac(list, payload), "utf8");
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        return undefined;
      }
      try {
        return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as unknown;
      } catch {
        return undefined;
      }
    },
  };
}

/** One list's codec: its name, the shape of its payload, and the position it stands for. */
export function listCursorCodec<Position, Payload>(
  cursors: PageCursors,
  list: {
    name: string;
    payload: z.ZodType<Payload>;
    toPayload(position: Position): Payload;
    toPosition(payload: Payload): Position;
  },
): CursorCodec<Position> {
  return {
    encode: (position) => cursors.sign(list.name, list.toPayload(position)),
    decode(cursor) {
      const parsed = list.payload.safeParse(cursors.open(list.name, cursor));
      return parsed.success ? list.toPosition(parsed.data) : undefined;
    },
  };
}

/**
 * The HMAC key: DLQ_CURSOR_SECRET when set, else derived from the API tokens. Every instance
 * behind one load balancer has the same tokens, so a cursor from one is valid on another (a
 * random per-process key would not be); rotating the tokens invalidates old cursors, which only
 * restarts a listing.
 */
export function cursorKey(
  secret: string | undefined,
  tokens: readonly { token: string }[],
): Buffer {
  const hash = createHash("sha256").update("hookline-dlq-cursor\u0000");
  if (secret !== undefined) return hash.update(secret).digest();
  for (const token of [...tokens.map((t) => t.token)].sort()) hash.update(`${token}\u0000`);
  return hash.digest();
}
