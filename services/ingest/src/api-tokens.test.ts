import { type NatsServerHandle, runService, startNatsServer } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PUBLISHER = "publisher-token-123";
const READER = "reader-token-12345";

describe("INGEST_API_TOKENS with scopes, through main", () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it("exits 78 naming the variable and the entry, never its token", async () => {
    const running = runService("ingest", {
      NATS_URL: nats.url,
      INGEST_API_TOKENS: `pub:${PUBLISHER}:events:write,ro:${READER}:endpoints:reed`,
    });
    expect(await running.exitCode).toBe(78);
    const output = running.output();
    expect(output).toContain('INGEST_API_TOKENS: entry "ro": unknown scope "endpoints:reed"');
    expect(output).not.toContain(READER);
    expect(output).not.toContain(PUBLISHER);
  });

  it("serves each token its scopes on the real server, fast event path included", async () => {
    const running = runService("ingest", {
      NATS_URL: nats.url,
      PORT: "0",
      INGEST_API_TOKENS: `pub:${PUBLISHER}:events:write, ro:${READER}:endpoints:read`,
      HOOKLINE_PREFIX: "ingest_tokens",
    });
    try {
      const base = await running.baseUrl();
      await running.ready(20_000);
      const call = (token: string, method: string, path: string, body?: unknown) =>
        fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      const event = { eventType: "tokens.test", payload: { ok: true } };
      expect((await call(PUBLISHER, "POST", "/v1/events", event)).status).toBe(202);
      const refused = await call(READER, "POST", "/v1/events", event);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({
        code: "missing_scope",
        detail: "this token lacks the scope events:write",
      });
      expect((await call(READER, "GET", "/v1/endpoints")).status).toBe(200);
      expect((await call(PUBLISHER, "GET", "/v1/endpoints")).status).toBe(403);
      expect(running.output()).not.toContain(READER);
    } finally {
      await running.terminate();
    }
    expect(await running.exitCode).toBe(0);
  });
});
