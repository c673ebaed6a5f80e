import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseEnv } from "./config";
import { apiTokensEnv, DLQ_SCOPES, INGEST_SCOPES } from "./scopes";

const ingestTokens = z.object({ T: apiTokensEnv(INGEST_SCOPES) });
const dlqTokens = z.object({ T: apiTokensEnv(DLQ_SCOPES) });

/** The issues of a refused value, as start-up prints them. */
function refusal(schema: typeof ingestTokens, value: string): string {
  const result = schema.safeParse({ T: value });
  expect(result.success).toBe(false);
  return JSON.stringify(result.error?.issues.map((issue) => issue.message));
}

describe("apiTokensEnv", () => {
  it("reads name:token as before: every scope, every tenant", () => {
    expect(ingestTokens.parse({ T: "dev:dev-ingest-token, ci:ci-token-123" }).T).toEqual([
      { name: "dev", token: "dev-ingest-token" },
      { name: "ci", token: "ci-token-123" },
    ]);
  });

  it("reads scopes joined by + and a tenant after @", () => {
    expect(
      ingestTokens.parse({
        T: "ro:read-only-token:endpoints:read,acme:acme-token-123:events:write+endpoints:read@acme,pub:publish-token@acme.eu-1",
      }).T,
    ).toEqual([
      // "endpoints:read" as one scope: the token's part ends at the next ":".
      { name: "ro", token: "read-only-token", scopes: ["endpoints:read"] },
      {
        name: "acme",
        token: "acme-token-123",
        scopes: ["events:write", "endpoints:read"],
        tenantId: "acme",
      },
      { name: "pub", token: "publish-token", tenantId: "acme.eu-1" },
    ]);
  });

  it("takes each service's own scopes only, naming an unknown one", () => {
    expect(dlqTokens.parse({ T: "ops:ops-token-123:deadletters:read@acme" }).T).toEqual([
      { name: "ops", token: "ops-token-123", scopes: ["deadletters:read"], tenantId: "acme" },
    ]);
    expect(refusal(dlqTokens, "ops:ops-token-123:events:write")).toContain(
      'entry \\"ops\\": unknown scope \\"events:write\\"',
    );
    expect(refusal(ingestTokens, "ops:ops-token-123:endpoints:read+endpoints:admin")).toContain(
      'unknown scope \\"endpoints:admin\\"',
    );
  });

  it.each([
    ["a second @", "ops:ops-hidden-token@acme@other"],
    ["an @ in the token", "ops:ops-s@cret-token:events:write"],
    ["a : in the token", "ops:ops-hidden:token-two:events:write"],
    ["a : after the scopes", "ops:ops-token-123:events:write:hidden"],
    ["a bad tenant id", "ops:ops-hidden-token@.."],
    ["an @ in the token", "ops:ops-hid@den-token"],
    ["a short token", "ops:short"],
    ["no token", "ops"],
  ])("refuses an entry with %s, naming the entry but not the token", (_, entry) => {
    const message = refusal(ingestTokens, entry);
    expect(message).toContain("ops");
    expect(message).not.toContain("hidden");
    expect(message).not.toContain('short\\"');
  });

  it("names the variable and the entry through parseEnv, never the token", () => {
    expect(() =>
      parseEnv(
        { INGEST_API_TOKENS: apiTokensEnv(INGEST_SCOPES) },
        { INGEST_API_TOKENS: "ok:fine-token-123,bad:hidden-token-1:secrets:write@acme" },
      ),
    ).toThrow(/INGEST_API_TOKENS: entry "bad": unknown scope "secrets:write"/);
    try {
      parseEnv(
        { INGEST_API_TOKENS: apiTokensEnv(INGEST_SCOPES) },
        { INGEST_API_TOKENS: "bad:hidden-token-1:secrets:write" },
      );
    } catch (error) {
      expect(String(error)).not.toContain("hidden-token-1");
    }
  });
});
