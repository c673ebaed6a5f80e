import { describe, expect, it } from "vitest";
import { readBreakerRequest } from "./breaker-control";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("readBreakerRequest", () => {
  it("reads the endpoint id", () => {
    expect(readBreakerRequest(bytes('{"endpointId":"ep_1"}'))).toEqual({
      ok: true,
      endpointId: "ep_1",
    });
  });

  it("refuses what is not JSON, and names the field that is wrong", () => {
    expect(readBreakerRequest(bytes("{"))).toEqual({
      ok: false,
      reply: { ok: false, code: 400, description: "request: not JSON" },
    });
    const missing = readBreakerRequest(bytes("{}"));
    expect(missing.ok).toBe(false);
    if (!missing.ok) {
      expect(missing.reply).toMatchObject({ ok: false, code: 400 });
      expect(missing.reply.ok === false && missing.reply.description).toMatch(/^endpointId: /);
    }
    const empty = readBreakerRequest(bytes('{"endpointId":""}'));
    expect(empty.ok === false && empty.reply.ok === false && empty.reply.description).toMatch(
      /^endpointId: /,
    );
  });
});
