import type { RouteConfig } from "@hono/zod-openapi";
import { TENANT_ID_PATTERN } from "@hookline/contracts";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { grantOf } from "./auth";
import { PROBLEM_CONTENT_TYPE, problemResponse } from "./problem";

/** What an ingest token may do; a token configured without scopes holds all of them. */
export const INGEST_SCOPES = [
  "events:write",
  "endpoints:read",
  "endpoints:write",
  "secrets:read",
  "tenants:admin",
  // system health: every service instance and stream (GET /v1/system/health)
  "system:read",
] as const;
export type IngestScope = (typeof INGEST_SCOPES)[number];

/** What a dlq token may do; a token configured without scopes holds all of them. */
export const DLQ_SCOPES = [
  "deadletters:read",
  "deadletters:write",
  // the attempt log, event views and delivery stats
  "attempts:read",
  // queue stats: every stream and consumer
  "queues:read",
] as const;
export type DlqScope = (typeof DLQ_SCOPES)[number];

export type Scope = IngestScope | DlqScope;

/**
 * The OpenAPI extension a route declares its scopes with, in its route file: the app's one
 * registration function reads it to check them, and the document shows it to clients.
 */
export const REQUIRED_SCOPES = "x-required-scopes";

/** The scopes a route declares (every one is needed); undefined: the route declares none. */
export function requiredScopes(route: RouteConfig): readonly Scope[] | undefined {
  const declared: unknown = (route as Record<string, unknown>)[REQUIRED_SCOPES];
  return Array.isArray(declared) ? (declared as Scope[]) : undefined;
}

/**
 * The route with its scopes named at the end of its description and its 403 documented, for
 * readers of the docs. Only the document changes: the handler's own answers stay as typed.
 */
export function describedWithScopes<R extends RouteConfig>(route: R, scopes: readonly Scope[]): R {
  const named = scopes.map((scope) => `\`${scope}\``).join(" and ");
  const sentence = `Requires a token with the scope${scopes.length > 1 ? "s" : ""} ${named}.`;
  return {
    ...route,
    description: route.description === undefined ? sentence : `${route.description} ${sentence}`,
    responses: {
      ...route.responses,
      403: {
        description: `The token lacks a scope this route requires (\`missing_scope\`, naming it).`,
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } },
      },
    },
  };
}

/**
 * 403 problem+json naming the first scope the token lacks. Runs after bearerAuth and before the
 * route's validation, so a token without the scope learns nothing about its input.
 */
export function scopeCheck(scopes: readonly Scope[]): MiddlewareHandler {
  return async (c, next) => {
    const grant = grantOf(c);
    const missing = scopes.find((scope) => !grantAllows(grant.scopes, scope));
    if (missing !== undefined) {
      return problemResponse(c, {
        status: 403,
        code: "missing_scope",
        title: "Forbidden",
        detail: `this token lacks the scope ${missing}`,
      });
    }
    await next();
  };
}

/** Undefined scopes: every scope (a token from before scopes, or configured without any). */
export function grantAllows(scopes: ReadonlySet<string> | undefined, scope: Scope): boolean {
  return scopes === undefined || scopes.has(scope);
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const MIN_TOKEN_LENGTH = 8;
const SCOPE_LIKE = /^[a-z]{1,32}:[a-z]{1,32}$/;

/** One parsed entry, or what is wrong with it (never quoting the token). */
type TokenEntry =
  | { outcome: "token"; name: string; token: string; scopes?: Scope[]; tenantId?: string }
  | { outcome: "invalid"; message: string };

function parseTokenEntry(entry: string, known: readonly Scope[]): TokenEntry {
  // Scope names hold a ":" themselves: the name ends at the first ":", the token at the second.
  const at = entry.split("@");
  const [pairs = "", tenantId] = at;
  const nameEnd = pairs.indexOf(":");
  const tokenEnd = pairs.indexOf(":", nameEnd + 1);
  const name = nameEnd < 0 ? pairs : pairs.slice(0, nameEnd);
  const token = nameEnd < 0 ? "" : pairs.slice(nameEnd + 1, tokenEnd < 0 ? undefined : tokenEnd);
  const scopeList = tokenEnd < 0 ? undefined : pairs.slice(tokenEnd + 1);
  // Nothing of a token goes into a message: only the entry's name, and only a plain name.
  const who = NAME.test(name) ? `entry "${name}"` : "an entry";
  if (at.length > 2 || !NAME.test(name) || token.length < MIN_TOKEN_LENGTH) {
    return {
      outcome: "invalid",
      message:
        `${who}: expected name:token[:scope+scope…][@tenant], the token at least ` +
        `${MIN_TOKEN_LENGTH} characters without ":", "@" or ","`,
    };
  }
  if (
    tenantId !== undefined &&
    (!TENANT_ID_PATTERN.test(tenantId) || tenantId === "." || tenantId === "..")
  ) {
    // Not quoted: after a misplaced "@" it may be part of a token.
    return { outcome: "invalid", message: `${who}: what follows "@" is not a tenant id` };
  }
  let scopes: Scope[] | undefined;
  if (scopeList !== undefined) {
    scopes = [];
    for (const scope of scopeList.split("+")) {
      if (!known.includes(scope as Scope)) {
        // Named only when it looks like a scope: otherwise it may be the rest of a token.
        const named = SCOPE_LIKE.test(scope) ? ` "${scope}"` : "";
        return {
          outcome: "invalid",
          message:
            `${who}: unknown scope${named} (known: ${known.join(", ")}; a token may not ` +
            'contain ":")',
        };
      }
      scopes.push(scope as Scope);
    }
  }
  return {
    outcome: "token",
    name,
    token,
    ...(scopes === undefined ? {} : { scopes }),
    ...(tenantId === undefined ? {} : { tenantId }),
  };
}

/**
 * API tokens separated by commas: `name:token[:scope+scope…][@tenant]`. The name is who acted;
 * no scopes: every scope of `known`; no tenant: every tenant. A token may not contain ":", "@"
 * or ",", so an entry reads only one way; anything else is refused at start-up naming the entry.
 */
export function apiTokensEnv(known: readonly Scope[]) {
  return z.string().transform((text, ctx) => {
    const byToken = new Map<string, Extract<TokenEntry, { outcome: "token" }>>();
    for (const entry of text.split(",").map((part) => part.trim())) {
      if (entry === "") continue;
      const parsed = parseTokenEntry(entry, known);
      if (parsed.outcome === "invalid") {
        ctx.addIssue({ code: "custom", message: parsed.message });
        return z.NEVER;
      }
      byToken.set(parsed.token, parsed);
    }
    if (byToken.size === 0) {
      ctx.addIssue({ code: "custom", message: "expected at least one name:token entry" });
      return z.NEVER;
    }
    return [...byToken.values()].map(({ outcome: _, ...token }) => token);
  });
}
