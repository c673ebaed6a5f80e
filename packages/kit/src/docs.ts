import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";

// The rendered reference at /docs is Swagger UI, served from the service itself: its files come
// from the pinned swagger-ui-dist package, so an air-gapped install has docs and the page loads no
// third-party script. The page holds no inline script (init.js starts the UI), which lets its
// Content-Security-Policy allow scripts from the service's own origin only.

/** Where /docs loads its files from; relative, so the page also works behind a path prefix. */
const ASSET_PATH = "docs/assets";
const SPEC_PATH = "openapi.json";

/** Starts Swagger UI on the page's #swagger-ui element, with the spec URL it names. */
const INIT_JS = `"use strict";
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: new URL(root.dataset.specUrl, document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default would load a badge from validator.swagger.io.
    validatorUrl: null,
  });
});
`;

/** Only these files are served, each with its content type. */
const DIST_FILES = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
} as const;

/** The page's policy: nothing from another origin, and no inline script or style. */
const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  /** A hash of the body: the asset's URL carries it (?v=), so it can be cached for good. */
  key: string;
}

interface DocsAssets {
  /** swagger-ui-dist's version. */
  version: string;
  files: Map<string, Asset>;
}

let loaded: DocsAssets | undefined;

/** swagger-ui-dist's files, read once per process (about 2 MB) and kept in memory. */
function docsAssets(): DocsAssets {
  if (loaded !== undefined) return loaded;
  const manifest = createRequire(import.meta.url).resolve("swagger-ui-dist/package.json");
  const dir = dirname(manifest);
  const version = (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  const asset = (body: Uint8Array<ArrayBuffer>, contentType: string): Asset => ({
    body,
    contentType,
    key: createHash("sha256").update(body).digest("hex").slice(0, 16),
  });
  const files = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(DIST_FILES)) {
    files.set(name, asset(readFileSync(join(dir, name)), contentType));
  }
  files.set("init.js", asset(Buffer.from(INIT_JS), "text/javascript; charset=utf-8"));
  loaded = { version, files };
  return loaded;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char] ?? "",
  );

function docsPage(title: string, assets: DocsAssets): string {
  const url = (name: string) => `${ASSET_PATH}/${name}?v=${assets.files.get(name)?.key}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="swagger-ui-dist ${escapeHtml(assets.version)}">
<title>${escapeHtml(title)}</title>
<link rel="icon" type="image/png" href="${url("favicon-32x32.png")}">
<link rel="stylesheet" href="${url("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui" data-spec-url="${SPEC_PATH}"></div>
<script src="${url("swagger-ui-bundle.js")}"></script>
<script src="${url("init.js")}"></script>
</body>
</html>
`;
}

/**
 * Serves the OpenAPI document at /openapi.json and a rendered reference at /docs, whose files
 * are under /docs/assets/. None of them asks for a token.
 */
export function mountApiDocs<E extends Env>(
  app: OpenAPIHono<E>,
  info: { title: string; version: string; description: string },
): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  app.doc31("/openapi.json", { openapi: "3.1.0", info, security: [{ bearer: [] }] });

  const assets = docsAssets();
  const page = docsPage(info.title, assets);
  app.get("/docs", (c) =>
    c.html(page, 200, {
      "content-security-policy": DOCS_CONTENT_SECURITY_POLICY,
      "cache-control": "no-cache",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    }),
  );
  app.get(`/${ASSET_PATH}/:file`, (c) => {
    const asset = assets.files.get(c.req.param("file"));
    if (asset === undefined) return c.notFound();
    const etag = `"${asset.key}"`;
    const headers = {
      "content-type": asset.contentType,
      etag,
      // A URL naming this content (?v=) never changes what it answers; any other is revalidated.
      "cache-control":
        c.req.query("v") === asset.key ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
    };
    if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
    return c.body(asset.body, 200, headers);
  });
}
