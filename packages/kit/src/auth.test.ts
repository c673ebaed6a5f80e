import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { bearerAuth, tokenHolder } from "./auth";

const tokens = [
  { name: "ops", token: "ops-token-1234" },
  { name: "ci", token: "ci-token-5678" },
];

describe("tokenHolder", () => {
  it("finds the holder of a known token", () => {
    expect(tokenHolder(tokens, "ci-token-5678")).toBe("ci");
  });
  it.each(["", "ops-token-123", "ops-token-12345", "OPS-TOKEN-1234"])("rejects %j", (token) => {
    expect(tokenHolder(tokens, token)).toBeUndefined();
  });
});

describe("bearerAuth", () => {
  const app = new Hono<{ Variables: { actor: string } }>();
  app.use(bearerAuth(tokens));
  app.get("/", (c) => c.text(c.get("actor")));

  it("sets the actor from the token name", async () => {
    const res = await app.request("/", { headers: { authorization: "Bearer ops-token-1234" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ops");
  });

  it("answers 401 problem+json without a token", async () => {
    const res = await app.request("/");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(await res.json()).toMatchObject({ code: "unauthorized", status: 401 });
  });

  it("answers 401 for a wrong token", async () => {
    const res = await app.request("/", { headers: { authorization: "Bearer nope-nope-nope" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ detail: "the bearer token is not valid" });
  });
});
