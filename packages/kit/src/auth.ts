import { hash, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { problemResponse } from "./problem";

export interface ApiToken {
  name: string;
  token: string;
  /** Absent: every scope of the service (tokens configured without scopes). */
  scopes?: readonly string[] | undefined;
  /** Absent: every tenant. */
  tenantId?: string | undefined;
}

/** What the holder of a token may do, as the routes check it. */
export interface TokenGrant {
  /** The token's name: the actor of what it does. */
  name: string;
  /** Undefined: every scope. */
  scopes: ReadonlySet<string> | undefined;
  /** The one tenant the token acts for; undefined: every tenant. */
  tenantId: string | undefined;
}

/** One-shot: no Hash object per request. */
const digest = (text: string) => hash("sha256", text, "buffer");

/**
 * Finds the grant of a presented token. Digests and scope sets are made once; every known token
 * is compared on each call, each in constant time over equal-length digests, so neither the
 * match position nor the token length leaks through timing.
 */
export function tokenGrants(
  tokens: readonly ApiToken[],
): (presented: string) => TokenGrant | undefined {
  const known = tokens.map(({ name, token, scopes, tenantId }) => ({
    digest: digest(token),
    grant: {
      name,
      scopes: scopes === undefined ? undefined : new Set(scopes),
      tenantId,
    } satisfies TokenGrant,
  }));
  return (presented) => {
    const presentedDigest = digest(presented);
    let found: TokenGrant | undefined;
    for (const { digest: expected, grant } of known) {
      if (timingSafeEqual(expected, presentedDigest) && found === undefined) found = grant;
    }
    return found;
  };
}

/** Who holds a token (every token compared in constant time, as tokenGrants). */
export function tokenHolder(tokens: readonly ApiToken[], presented: string): string | undefined {
  return tokenGrants(tokens)(presented)?.name;
}

const GRANT = "tokenGrant";

/** The grant bearerAuth found for this request. */
export function grantOf(c: Context): TokenGrant {
  return c.get(GRANT as never) as TokenGrant;
}

/**
 * Bearer auth with the configured tokens; the holder's name becomes the `actor` variable, and
 * what the token may do is there for grantOf.
 */
export function bearerAuth(tokens: readonly ApiToken[]): MiddlewareHandler {
  const grantFor = tokenGrants(tokens);
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const grant = match?.[1] === undefined ? undefined : grantFor(match[1]);
    if (grant === undefined) {
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
    c.set("actor" as never, grant.name as never);
    c.set(GRANT as never, grant as never);
    await next();
  };
}
