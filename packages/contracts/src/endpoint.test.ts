import { errors, request } from "undici";
import { describe, expect, it } from "vitest";
import { endpointHeadersSchema, storedEndpointHeadersSchema } from "./endpoint";

/** [name, value, accepted]: what the API takes as an endpoint's custom header. */
const cases: [string, string, boolean][] = [
  ["x-tenant", "acme", true],
  ["X-Api-Key", "k3y!#$%&'*+-.^_`|~", true],
  ["authorization", "Bearer abc.def", true],
  ["x-empty", "", true],
  ["x-inner-space", "a b\tc", true],
  ["x-quoted", '"a, b"; q=0.5', true],
  ["x-long", "v".repeat(1024), true],
  ["x-too-long", "v".repeat(1025), false],
  ["x-".padEnd(64, "n"), "ok", true],
  ["x-".padEnd(65, "n"), "ok", false],
  // Names undici refuses: not an RFC 9110 token.
  ["", "v", false],
  ["x tenant", "v", false],
  ["x-tenant:", "v", false],
  ["x(tenant)", "v", false],
  ["x-ténant", "v", false],
  ['x"q', "v", false],
  // Hop-by-hop, framing and routing headers: the sender's, and several refused by undici.
  ["connection", "close", false],
  ["Connection", "keep-alive", false],
  ["keep-alive", "timeout=5", false],
  ["proxy-connection", "keep-alive", false],
  ["transfer-encoding", "chunked", false],
  ["upgrade", "websocket", false],
  ["te", "trailers", false],
  ["trailer", "x-sum", false],
  ["expect", "100-continue", false],
  ["host", "example.com", false],
  ["HOST", "example.com", false],
  ["content-length", "10", false],
  // Used by signing.
  ["content-type", "text/plain", false],
  ["webhook-id", "spoofed", false],
  ["Webhook-Signature", "v1,x", false],
  // Values undici refuses, or would send other than stored.
  ["x-cr", "a\rb", false],
  ["x-lf", "a\nb", false],
  ["x-crlf-injection", "a\r\nx-evil: 1", false],
  ["x-nul", "a\0b", false],
  ["x-control", "a\u0001b", false],
  ["x-escape", "a\u001bb", false],
  ["x-del", "a\u007fb", false],
  ["x-latin1", "café", false],
  ["x-unicode", "€", false],
  ["x-emoji", "🙂", false],
  ["x-leading-space", " v", false],
  ["x-trailing-tab", "v\t", false],
];

/** What undici 7 (the lockfile's, which delivery sends with) does with a header. */
async function undiciRefuses(name: string, value: string): Promise<boolean> {
  try {
    // Port 1: nothing listens, so a header undici takes fails later, at connect.
    await request("http://127.0.0.1:1/", { method: "POST", headers: { [name]: value } });
    return false;
  } catch (error) {
    return (
      error instanceof errors.InvalidArgumentError || error instanceof errors.NotSupportedError
    );
  }
}

describe("endpointHeadersSchema", () => {
  it.each(cases)("%j: %j → accepted %s", async (name, value, accepted) => {
    const parsed = endpointHeadersSchema.safeParse({ [name]: value });
    expect(parsed.success).toBe(accepted);
    if (accepted) {
      // Nothing the API takes is refused when delivery sends it.
      expect(await undiciRefuses(name, value)).toBe(false);
      return;
    }
    // Each refusal names the header in its path and its message.
    expect(parsed.error?.issues.map((issue) => issue.path)).toContainEqual([name]);
    expect(parsed.error?.issues[0]?.message).toContain(JSON.stringify(name));
  });

  it("refuses at least everything undici refuses in the table", async () => {
    for (const [name, value] of cases) {
      if (await undiciRefuses(name, value)) {
        expect(endpointHeadersSchema.safeParse({ [name]: value }).success, name).toBe(false);
      }
    }
  });

  it("refuses more than 20 headers and the same name twice in different case", () => {
    const many = Object.fromEntries(Array.from({ length: 21 }, (_, n) => [`x-h${n}`, "v"]));
    expect(endpointHeadersSchema.safeParse(many).success).toBe(false);
    const twice = endpointHeadersSchema.safeParse({ "X-Tenant": "a", "x-tenant": "b" });
    expect(twice.error?.issues[0]).toMatchObject({
      path: ["x-tenant"],
      message: '"X-Tenant" and "x-tenant" are the same header',
    });
  });
});

describe("storedEndpointHeadersSchema", () => {
  it("still loads headers that records written under the earlier rules may hold", () => {
    expect(
      storedEndpointHeadersSchema.safeParse({ te: "trailers", "x-name": "café" }).success,
    ).toBe(true);
    expect(storedEndpointHeadersSchema.safeParse({ "x-a": "a\r\nb" }).success).toBe(false);
  });
});
