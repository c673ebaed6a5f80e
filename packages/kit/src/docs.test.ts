import { OpenAPIHono } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { mountApiDocs } from "./docs";

const PAGE = "http://service.test/docs";

function docsApp() {
  const app = new OpenAPIHono();
  mountApiDocs(app, { title: "Hookline <test>", version: "1.2.3", description: "For tests." });
  return app;
}

/** The page's src= and href= references, resolved the way a browser would. */
function references(html: string): URL[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => new URL(m[1] ?? "", PAGE));
}

const CONTENT_TYPES: Record<string, RegExp> = {
  ".css": /^text\/css\b/,
  ".js": /^text\/javascript\b/,
  ".png": /^image\/png$/,
};

describe("mountApiDocs", () => {
  it("renders /docs without any URL to another host or any inline script", async () => {
    const response = await docsApp().request("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html\b/);
    const html = await response.text();
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/(?:src|href)="\/\//);
    expect(html).toContain("<title>Hookline &lt;test&gt;</title>");
    // Every <script> loads a file; none carries code of its own.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="/);
      expect(body?.trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).toMatch(/data-spec-url="openapi\.json"/);
  });

  it("sends a Content-Security-Policy that allows only the service's own scripts", async () => {
    const response = await docsApp().request("/docs");
    const policy = response.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      policy.split(";").map((d) => {
        const [name = "", ...values] = d.trim().split(/\s+/);
        return [name, values.join(" ")];
      }),
    );
    expect(directives.get("default-src")).toBe("'none'");
    expect(directives.get("script-src")).toBe("'self'");
    expect(directives.get("style-src")).toBe("'self'");
    expect(directives.get("connect-src")).toBe("'self'");
    expect(directives.get("frame-ancestors")).toBe("'none'");
    expect(policy).not.toMatch(/unsafe|https?:|\*/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("serves every file the page references from the service, cacheable by its URL", async () => {
    const app = docsApp();
    const refs = references(await (await app.request("/docs")).text());
    const paths = refs.map((url) => url.pathname);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/docs/assets/swagger-ui.css",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/init.js",
      ]),
    );
    for (const url of refs) {
      expect(url.origin, url.href).toBe(new URL(PAGE).origin);
      const response = await app.request(url.pathname + url.search);
      expect(response.status, url.pathname).toBe(200);
      const extension = url.pathname.slice(url.pathname.lastIndexOf("."));
      expect(response.headers.get("content-type"), url.pathname).toMatch(
        CONTENT_TYPES[extension] ?? /^$/,
      );
      expect(response.headers.get("cache-control"), url.pathname).toContain("immutable");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect((await response.arrayBuffer()).byteLength, url.pathname).toBeGreaterThan(0);
    }
    const bundle = await app.request("/docs/assets/swagger-ui-bundle.js");
    expect(await bundle.text()).toContain("SwaggerUIBundle");
  });

  it("starts Swagger UI from a served script, on the spec the page names", async () => {
    const app = docsApp();
    const html = await (await app.request("/docs")).text();
    const init = references(html).find((url) => url.pathname === "/docs/assets/init.js");
    const code = await (await app.request(`${init?.pathname}${init?.search}`)).text();
    expect(code).toContain("SwaggerUIBundle(");
    expect(code).toContain("validatorUrl: null");
    expect(code).not.toMatch(/https?:/);
    const spec = new URL(/data-spec-url="([^"]*)"/.exec(html)?.[1] ?? "", PAGE);
    const doc = await app.request(spec.pathname);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { info: { title: string } }).info.title).toBe("Hookline <test>");
  });

  it("revalidates an asset asked for without its content key, and 404s unknown ones", async () => {
    const app = docsApp();
    const plain = await app.request("/docs/assets/swagger-ui.css");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("cache-control")).toBe("no-cache");
    const etag = plain.headers.get("etag") ?? "";
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    const again = await app.request("/docs/assets/swagger-ui.css", {
      headers: { "if-none-match": etag },
    });
    expect(again.status).toBe(304);
    for (const path of [
      "/docs/assets/package.json",
      "/docs/assets/swagger-ui-bundle.js.map",
      "/docs/assets/..%2Fpackage.json",
      "/docs/assets/",
    ]) {
      expect((await app.request(path)).status, path).toBe(404);
    }
  });
});
