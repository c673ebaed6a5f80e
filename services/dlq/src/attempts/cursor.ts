import { createHash } from "node:crypto";
import { z } from "zod";
import type { CursorCodec } from "../letters/cursor";

/** A position in the attempt list's order `(attempted_at desc, attempt_id desc)`. */
export interface AttemptPosition {
  attemptedAt: Date;
  attemptId: string;
}

export interface AttemptCursorCodec {
  encode(position: AttemptPosition): string;
  /** undefined for anything this service did not issue for the attempt list, or altered. */
  decode(cursor: string): AttemptPosition | undefined;
}

const positionSchema = z.strictObject({
  at: z.iso.datetime(),
  // <eventId ≤128>:<endpointId 29>#<pass>@<dispatchSeq>, with room to spare
  id: z.string().min(1).max(400),
});
const MAX_CURSOR_CHARS = 1_200;

/** Binds a payload to the attempt list: a letter cursor's id is `dl_…`, never this. */
const seal = (payload: string) =>
  `at_${createHash("sha256").update(`hookline-attempt-cursor\u0000${payload}`).digest("base64url")}`;

/**
 * Cursors are `base64url(JSON {at, id}) "." <letter cursor>`: the letter codec's HMAC signs a
 * digest of the payload (attempt ids are longer than a letter id may be), so the attempt list
 * needs no key of its own and a cursor from the letter list is refused here, and vice versa.
 */
export function createAttemptCursorCodec(letters: CursorCodec): AttemptCursorCodec {
  return {
    encode(position) {
      const attemptedAt = position.attemptedAt;
      const payload = Buffer.from(
        JSON.stringify({ at: attemptedAt.toISOString(), id: position.attemptId }),
        "utf8",
      ).toString("base64url");
      return `${payload}.${letters.encode({ deadAt: attemptedAt, id: seal(payload) })}`;
    },
    decode(cursor) {
      if (cursor.length > MAX_CURSOR_CHARS) return undefined;
      const dot = cursor.indexOf(".");
      if (dot <= 0) return undefined;
      const payload = cursor.slice(0, dot);
      const signed = letters.decode(cursor.slice(dot + 1));
      if (signed === undefined || signed.id !== seal(payload)) return undefined;
      try {
        const parsed = positionSchema.safeParse(
          JSON.parse(Buffer.from(payload, "base64url").toString("utf8")),
        );
        if (!parsed.success) return undefined;
        const attemptedAt = new Date(parsed.data.at);
        if (attemptedAt.getTime() !== signed.deadAt.getTime()) return undefined;
        return { attemptedAt, attemptId: parsed.data.id };
      } catch {
        return undefined;
      }
    },
  };
}
