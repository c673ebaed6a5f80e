import { z } from "zod";
import { type CursorCodec, listCursorCodec, type PageCursors } from "../http/page-cursors";

/** A position in the attempt list's order `(attempted_at desc, attempt_id desc)`. */
export interface AttemptPosition {
  attemptedAt: Date;
  attemptId: string;
}

const payloadSchema = z.strictObject({
  at: z.iso.datetime(),
  // <eventId ≤128>:<endpointId 29>#<pass>@<dispatchSeq>, with room to spare
  id: z.string().min(1).max(400),
});

/** Cursors of `GET /v1/attempts`. */
export function attemptCursorCodec(cursors: PageCursors): CursorCodec<AttemptPosition> {
  return listCursorCodec(cursors, {
    name: "attempts",
    payload: payloadSchema,
    toPayload: (position) => ({ at: position.attemptedAt.toISOString(), id: position.attemptId }),
    toPosition: (payload) => ({ attemptedAt: new Date(payload.at), attemptId: payload.id }),
  });
}
