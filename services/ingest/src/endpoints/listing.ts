import { type EndpointRecord, endpointIdSchema, tenantOfEndpoint } from "@hookline/contracts";
import type { EndpointCache } from "@hookline/kit";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export type EndpointPage =
  | { outcome: "page"; endpoints: EndpointRecord[]; nextCursor: string | null }
  | { outcome: "invalid_cursor" };

/** The cursor is the last id of the previous page, opaque to clients (base64url). */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): string | undefined {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!endpointIdSchema.safeParse(id).success || encodeCursor(id) !== cursor) return undefined;
  return id;
}

/**
 * A page of one tenant's endpoints in id order (ULIDs sort by creation time), read from the
 * in-memory cache.
 */
export function listEndpoints(
  cache: Pick<EndpointCache, "all">,
  tenantId: string,
  page: { cursor?: string | undefined; limit: number },
): EndpointPage {
  let after: string | undefined;
  if (page.cursor !== undefined) {
    after = decodeCursor(page.cursor);
    if (after === undefined) return { outcome: "invalid_cursor" };
  }
  const sorted = cache
    .all()
    .map((cached) => cached.record)
    .filter(
      (record) =>
        tenantOfEndpoint(record) === tenantId && (after === undefined || record.id > after),
    )
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const endpoints = sorted.slice(0, page.limit);
  const last = endpoints.at(-1);
  const nextCursor =
    sorted.length > page.limit && last !== undefined ? encodeCursor(last.id) : null;
  return { outcome: "page", endpoints, nextCursor };
}
