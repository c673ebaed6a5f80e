import { runService } from "@hookline/testkit";
import { describe, expect, it } from "vitest";

describe("DLQ_API_TOKENS with scopes, through main", () => {
  it("exits 78 for a scope of another service, naming the entry but not its token", async () => {
    const running = runService("dlq", {
      DATABASE_URL: "postgres://127.0.0.1:1/none",
      DLQ_API_TOKENS: "ops:ops-token-12345,support:support-token-1:events:write@acme",
    });
    expect(await running.exitCode).toBe(78);
    const output = running.output();
    expect(output).toContain('DLQ_API_TOKENS: entry "support": unknown scope "events:write"');
    expect(output).toContain("known: deadletters:read, deadletters:write");
    expect(output).not.toContain("support-token-1");
  });
});
