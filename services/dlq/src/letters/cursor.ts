import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

/** A position in the list order `(dead_at desc, id desc)`: the last row of a page. */
export interface PagePosition {
  deadAt: Date;
  id: string;
}

export interface CursorCodec {
  encode(position: PagePosition): string;
  /** undefined for anything this service did not issue, or that was altered. */
  decode(cursor: string): PagePosition | undefined;
}

const payloadSchema = z.strictObject({
  deadAt: z.iso.datetime(),
  id: z.string().min(1).max(100),
});
const MAC_BYTES = 16;
const MAX_CURSOR_CHARS = 512;

const mac = (key: Buffer, payload: string) =>
  createHmac("sha256", key).update(payload).digest().subarray(0, MAC_BYTES);

/**
 * Cursors are `base64url(JSON {deadAt, id}) "." base64url(HMAC-SHA256)`: opaque to clients and
 * tamper-evident, so a forged position is a 400 rather than a query over arbitrary values.
 */
export function createCursorCodec(key: Buffer): CursorCodec {
  return {
    encode(position) {
      const payload = Buffer.from(
        JSON.stringify({ deadAt: position.deadAt.toISOString(), id: position.id }),
        "utf8",
      ).toString("base64url");
      return `${payload}.${mac(key, payload).toString("base64url")}`;
    },
    decode(cursor) {
      if (cursor.length > MAX_CURSOR_CHARS) return undefined;
      const [payload, signature, ...rest] = cursor.split(".");
      if (payload === undefined || signature === undefined || rest.length > 0) return undefined;
      // Compared as text: base64 decoding is lenient, and only the canonical form is ours.
      const presented = Buffer.from(signature, "utf8");
      const expected = Buffer.from(mac(key, payload).toString("base64url"), "utf8");
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        return undefined;
      }
      try {
        const parsed = payloadSchema.safeParse(
          JSON.parse(Buffer.from(payload, "base64url").toString("utf8")),
        );
        return parsed.success
          ? { deadAt: new Date(parsed.data.deadAt), id: parsed.data.id }
          : undefined;
      } catch {
        return undefined;
      }
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
