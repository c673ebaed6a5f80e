import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { problemResponse } from "./problem";

export interface ApiToken {
  name: string;
  token: string;
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Finds who holds a token. Every known token is compared, each in constant time over equal-length
 * digests, so neither the match position nor the token length leaks through timing.
 */
export function tokenHolder(tokens: readonly ApiToken[], presented: string): string | undefined {
  const presentedDigest = digest(presented);
  let holder: string | undefined;
  for (const { name, token } of tokens) {
    if (timingSafeEqual(digest(token), presentedDigest) && holder === undefined) holder = name;
  }
  return holder;
}

/** Bearer auth with `name:token` pairs; the holder's name becomes the `actor` variable. */
export function bearerAuth(tokens: readonly ApiToken[]): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const actor = match?.[1] === undefined ? undefined : tokenHolder(tokens, match[1]);
    if (actor === undefined) {
      return problemResponse(
        c,
        {
          status: 401,
          code: "unauthorized",
          title: "Unauthorized",
          detail: match ? "the bearer token is not valid" : "missing Authorization: Bearer <token>",
        },
        { "www-authenticate": 'Bearer realm="hookline"' },
      );
    }
    c.set("actor" as never, actor as never);
    await next();
  };
}
