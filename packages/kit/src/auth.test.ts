import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { bearerAuth, grantOf, tokenGrants, tokenHolder } from "./auth";
import { scopeCheck } from "./scopes";

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

describe("tokenGrants", () => {
  const grantFor = tokenGrants([
    { name: "ops", token: "ops-token-1234" },
    { name: "reader", token: "reader-token-1", scopes: ["endpoints:read"], tenantId: "acme" },
  ]);

  it("gives a token without scopes every scope and every tenant", () => {
    expect(grantFor("ops-token-1234")).toEqual({
      name: "ops",
      scopes: undefined,
      tenantId: undefined,
    });
  });

  it("gives a scoped, bound token its scope set and tenant", () => {
    const grant = grantFor("reader-token-1");
    expect(grant?.name).toBe("reader");
    expect(grant?.tenantId).toBe("acme");
    expect([...(grant?.scopes ?? [])]).toEqual(["endpoints:read"]);
  });

  it("finds nothing for an unknown token", () => {
    expect(grantFor("reader-token-2")).toBeUndefined();
  });
});

describe("scopeCheck", () => {
  const app = new Hono();
  app.use(
    bearerAuth([
      { name: "all", token: "all-token-1234" },
      { name: "reader", token: "reader-token-1", scopes: ["endpoints:read"] },
    ]),
  );
  app.get("/read", scopeCheck(["endpoints:read"]), (c) => c.text(grantOf(c).name));
  app.get("/write", scopeCheck(["endpoints:write", "secrets:read"]), (c) => c.text("written"));

  const call = (path: string, token: string) =>
    app.request(path, { headers: { authorization: `Bearer ${token}` } });

  it("lets a token with the scope through", async () => {
    const res = await call("/read", "reader-token-1");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("reader");
  });

  it("lets a token configured without scopes through every check", async () => {
    expect((await call("/read", "all-token-1234")).status).toBe(200);
    expect((await call("/write", "all-token-1234")).status).toBe(200);
  });

  it("answers 403 problem+json naming the first scope the token lacks", async () => {
    const res = await call("/write", "reader-token-1");
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({
      status: 403,
      code: "missing_scope",
      detail: "this token lacks the scope endpoints:write",
    });
  });
});
