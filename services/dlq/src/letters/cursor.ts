import { z } from "zod";
import { type CursorCodec, listCursorCodec, type PageCursors } from "../http/page-cursors";

/** A position in the list order `(dead_at desc, id desc)`: the last row of a page. */
export interface PagePosition {
  deadAt: Date;
  id: string;
}

const payloadSchema = z.strictObject({
  deadAt: z.iso.datetime(),
  id: z.string().min(1).max(100),
});

/** Cursors of `GET /v1/dead-letters`. */
export function letterCursorCodec(cursors: PageCursors): CursorCodec<PagePosition> {
  return listCursorCodec(cursors, {
    name: "dead-letters",
    payload: payloadSchema,
    toPayload: (position) => ({ deadAt: position.deadAt.toISOString(), id: position.id }),
    toPosition: (payload) => ({ deadAt: new Date(payload.deadAt), id: payload.id }),
  });
}
