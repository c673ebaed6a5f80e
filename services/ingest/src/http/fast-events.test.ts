import { tenantKvKey } from "@hookline/contracts";
import { createLogger, createServiceMetrics, type RunningServer, serveHttp } from "@hookline/kit";
import { rawStatusLine } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PAYLOAD_DEPTH } from "../events/payload-depth";
import { createIngestMetrics } from "../metrics";
import { type IngestHarness, startIngestHarness, TEST_TOKEN } from "../testing/ingest-harness";
import { FastEventRoutes, type HeaderOf } from "./fast-events";

/** The same deployment twice: with the fast path (as main.ts runs) and without it. */
let fast: IngestHarness;
let validated: IngestHarness;
let fastServer: RunningServer;
let validatedServer: RunningServer;

beforeAll(async () => {
  [fast, validated] = await Promise.all([
    startIngestHarness({ prefix: "ingest_fast" }),
    startIngestHarness({ prefix: "ingest_validated", fastEventRoutes: false }),
  ]);
  for (const h of [fast, validated]) {
    const created = await h.call("POST", "/v1/endpoints", {
      url: "https://example.com/h",
      eventTypes: ["eq.a"],
    });
    expect(created.status).toBe(201);
    expect((await h.call("POST", "/v1/tenants", { id: "t.a", name: "A" })).status).toBe(201);
    const ofTenant = await h.call("POST", "/v1/tenants/t.a/endpoints", {
      url: "https://example.com/t",
      eventTypes: ["eq.a"],
    });
    expect(ofTenant.status).toBe(201);
    // A tenant whose deletion began and was cut short.
    const at = new Date().toISOString();
    const revision = await h.tenantsKv.create(
      tenantKvKey("going"),
      JSON.stringify({ id: "going", name: "Going", createdAt: at, updatedAt: at, deleting: true }),
    );
    expect(await h.tenants.waitForRevision(revision)).toBe(true);
  }
  [fastServer, validatedServer] = await Promise.all([
    serveHttp(fast.app, 0, "127.0.0.1"),
    serveHttp(validated.app, 0, "127.0.0.1"),
  ]);
});
afterAll(async () => {
  await Promise.all([fastServer?.close(), validatedServer?.close()]);
  await Promise.all([fast?.close(), validated?.close()]);
});

interface Case {
  name: string;
  path?: string;
  headers?: Record<string, string>;
  body: string;
}

const auth = { authorization: `Bearer ${TEST_TOKEN}`, "content-type": "application/json" };
const nested = (levels: number): unknown => (levels === 0 ? 1 : { v: nested(levels - 1) });
const json = (value: unknown) => JSON.stringify(value);
const valid = { eventType: "eq.a", payload: { n: 1 } };

const cases: Case[] = [
  { name: "valid", body: json(valid) },
  { name: "valid, with an id", body: json({ ...valid, id: "eq-1" }) },
  { name: "the same id again: duplicate", body: json({ ...valid, id: "eq-1" }) },
  { name: "unsubscribed type: no tasks", body: json({ eventType: "eq.none", payload: 1 }) },
  {
    name: "endpointIds naming no subscriber",
    body: json({ ...valid, endpointIds: [`ep_${"A".repeat(26)}`] }),
  },
  {
    name: "idempotency key",
    headers: { ...auth, "idempotency-key": "key-1" },
    body: json(valid),
  },
  {
    name: "invalid idempotency key",
    headers: { ...auth, "idempotency-key": "bad key" },
    body: json(valid),
  },
  { name: "missing eventType", body: json({ payload: 1 }) },
  { name: "eventType a number", body: json({ eventType: 5, payload: 1 }) },
  { name: "missing payload", body: json({ eventType: "eq.a" }) },
  { name: "payload null", body: json({ eventType: "eq.a", payload: null }) },
  { name: "too deep", body: json({ ...valid, payload: nested(MAX_PAYLOAD_DEPTH + 1) }) },
  { name: "id null", body: json({ ...valid, id: null }) },
  { name: "endpointIds empty", body: json({ ...valid, endpointIds: [] }) },
  { name: "endpointIds invalid", body: json({ ...valid, endpointIds: ["nope"] }) },
  { name: "array body", body: json([valid]) },
  { name: "null body", body: "null" },
  { name: "malformed JSON", body: '{"eventType":' },
  { name: "empty body", body: "" },
  { name: "byte order mark", body: `\uFEFF${json(valid)}` },
  {
    name: "text/plain",
    headers: { ...auth, "content-type": "text/plain" },
    body: json(valid),
  },
  {
    name: "JSON with a charset",
    headers: { ...auth, "content-type": "Application/JSON; charset=UTF-8" },
    body: json(valid),
  },
  {
    name: "a +json type",
    headers: { ...auth, "content-type": "application/vnd.x+json" },
    body: json(valid),
  },
  {
    name: "no content type",
    headers: { authorization: auth.authorization },
    body: json(valid),
  },
  { name: "no token", headers: { "content-type": "application/json" }, body: json(valid) },
  {
    name: "wrong token",
    headers: { ...auth, authorization: "Bearer not-the-token" },
    body: json(valid),
  },
  { name: "a query string", path: "/v1/events?x=1", body: json(valid) },
  { name: "a trailing slash", path: "/v1/events/", body: json(valid) },
  { name: "batch", path: "/v1/events/batch", body: json({ events: [valid, valid] }) },
  {
    name: "batch with ids",
    path: "/v1/events/batch",
    body: json({
      events: [
        { ...valid, id: "b-1" },
        { ...valid, id: "eq-1" },
      ],
    }),
  },
  { name: "batch empty", path: "/v1/events/batch", body: json({ events: [] }) },
  {
    name: "batch with a bad event",
    path: "/v1/events/batch",
    body: json({ events: [valid, { eventType: "eq.a" }] }),
  },
  {
    name: "batch too long",
    path: "/v1/events/batch",
    body: json({ events: Array.from({ length: 501 }, () => valid) }),
  },
  { name: "batch malformed", path: "/v1/events/batch", body: "{" },
  {
    name: "batch ignores idempotency keys",
    path: "/v1/events/batch",
    headers: { ...auth, "idempotency-key": "bad key" },
    body: json({ events: [valid] }),
  },
];

/** The same requests to a tenant's paths, and what is particular to them. */
const tenantCases: Case[] = [
  ...cases
    .filter(({ path }) => path === undefined || path === "/v1/events/batch")
    .map(({ name, path, ...rest }) => ({
      ...rest,
      name: `tenant: ${name}`,
      path: path === undefined ? "/v1/tenants/t.a/events" : "/v1/tenants/t.a/events/batch",
    })),
  { name: "unknown tenant", path: "/v1/tenants/nobody/events", body: json(valid) },
  {
    name: "unknown tenant, batch",
    path: "/v1/tenants/nobody/events/batch",
    body: json({ events: [valid] }),
  },
  { name: "tenant being deleted", path: "/v1/tenants/going/events", body: json(valid) },
  {
    name: "tenant being deleted, batch",
    path: "/v1/tenants/going/events/batch",
    body: json({ events: [valid] }),
  },
  { name: "malformed tenant id", path: "/v1/tenants/bad%20id/events", body: json(valid) },
  { name: "tenant id percent-encoded", path: "/v1/tenants/t%2Ea/events", body: json(valid) },
  { name: "tenant path, trailing slash", path: "/v1/tenants/t.a/events/", body: json(valid) },
  { name: "tenant path, no tenant", path: "/v1/tenants//events", body: json(valid) },
  {
    name: "tenant path, unauthorised",
    path: "/v1/tenants/t.a/events",
    headers: { "content-type": "application/json" },
    body: json(valid),
  },
  {
    name: "unknown tenant, unauthorised",
    path: "/v1/tenants/nobody/events",
    headers: { "content-type": "application/json" },
    body: json(valid),
  },
];
const allCases = [...cases, ...tenantCases];

interface Seen {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  body: unknown;
}

/** What a client sees, minus what differs by nature: generated event ids and request ids. */
async function seen(response: Response): Promise<Seen> {
  const text = (await response.text()).replace(/evt_[0-9A-HJKMNP-TV-Z]{26}/g, "evt_*");
  let body: unknown = text;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(response.headers.get("x-request-id")).toBeTruthy();
    if (typeof parsed === "object" && parsed !== null && "requestId" in parsed) {
      expect(parsed.requestId).toBe(response.headers.get("x-request-id"));
      parsed.requestId = "*";
    }
    body = parsed;
  } catch {}
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    retryAfter: response.headers.get("retry-after"),
    body,
  };
}

describe("the fast path of the event routes", () => {
  it("answers every request as the validated routes do (app.request)", async () => {
    for (const { name, path = "/v1/events", headers = auth, body } of allCases) {
      const send = (h: IngestHarness) => h.app.request(path, { method: "POST", headers, body });
      const [mine, theirs] = [await seen(await send(fast)), await seen(await send(validated))];
      expect(mine, name).toEqual(theirs);
    }
  });

  it("answers every request as the validated routes do (over HTTP, under @hono/node-server)", async () => {
    for (const { name, path = "/v1/events", headers = auth, body } of allCases) {
      const send = (to: RunningServer) =>
        fetch(`http://127.0.0.1:${to.port}${path}`, { method: "POST", headers, body });
      const [mine, theirs] = [
        await seen(await send(fastServer)),
        await seen(await send(validatedServer)),
      ];
      expect(mine, name).toEqual(theirs);
    }
  });

  it("keeps a client's X-Request-Id, and refuses a repeated Authorization header as the app does", async () => {
    for (const h of [fast, validated]) {
      const response = await h.app.request("/v1/events", {
        method: "POST",
        headers: { ...auth, "x-request-id": "client-id-1" },
        body: json(valid),
      });
      expect(response.status).toBe(202);
      expect(response.headers.get("x-request-id")).toBe("client-id-1");
    }

    const body = json(valid);
    const raw =
      "POST /v1/events HTTP/1.1\r\nhost: x\r\nconnection: close\r\n" +
      `authorization: Bearer ${TEST_TOKEN}\r\nauthorization: Bearer other\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const [mine, theirs] = await Promise.all([
      rawStatusLine(fastServer.port, raw),
      rawStatusLine(validatedServer.port, raw),
    ]);
    expect(mine).toBe(theirs);
  });

  it("counts its answers in the HTTP metrics as the app's middleware does", async () => {
    const metrics = async (h: IngestHarness) => {
      const text = await (await h.app.request("/metrics")).text();
      return text
        .split("\n")
        .filter((line) => /^hookline_http_request(s_total|_duration_seconds_count)\{/.test(line))
        .filter((line) => /route="\/v1\/(events|tenants\/:tenantId\/events)/.test(line))
        .map((line) =>
          line.replace(
            /\{(.*)\}/,
            (_, labels: string) => `{${labels.split(",").sort().join(",")}}`,
          ),
        )
        .sort();
    };
    const events = async (h: IngestHarness) =>
      (await (await h.app.request("/metrics")).text())
        .split("\n")
        .filter((line) => line.startsWith("hookline_ingest_events_total"));
    expect(await metrics(fast)).toEqual(await metrics(validated));
    expect(await metrics(fast)).toContainEqual(expect.stringContaining('status="202"'));
    expect(await metrics(fast)).toContainEqual(
      expect.stringMatching(/route="\/v1\/tenants\/:tenantId\/events".*status="202"/),
    );
    expect(await events(fast)).toEqual(await events(validated));
  });

  it("leaves a chunked body to the app, which accepts it as well", async () => {
    const body = json(valid);
    const chunked =
      "POST /v1/events HTTP/1.1\r\nhost: x\r\nconnection: close\r\n" +
      `authorization: Bearer ${TEST_TOKEN}\r\ncontent-type: application/json\r\n` +
      `transfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const [mine, theirs] = await Promise.all([
      rawStatusLine(fastServer.port, chunked),
      rawStatusLine(validatedServer.port, chunked),
    ]);
    expect(mine).toBe("HTTP/1.1 202 Accepted");
    expect(mine).toBe(theirs);
  });
});

describe("the fast path's tenant routes", () => {
  it("takes a known tenant's requests itself and leaves unknown or deleting tenants to the app", () => {
    const routes = new FastEventRoutes({
      logger: createLogger({ service: "ingest", level: "silent", pretty: false }),
      metrics: createServiceMetrics("ingest"),
      ingestMetrics: createIngestMetrics(createServiceMetrics("ingest"), () => undefined),
      tokens: [{ name: "tester", token: TEST_TOKEN }],
      limits: { maxBodyBytes: 1_024, maxBatchBytes: 4_096 },
      events: {
        publish: () => Promise.reject(new Error("not called")),
        publishBatch: () => Promise.reject(new Error("not called")),
      },
      tenants: fast.tenants,
    });
    const headers: Record<string, string> = {
      authorization: `Bearer ${TEST_TOKEN}`,
      "content-type": "application/json",
      "content-length": "2000",
    };
    const header: HeaderOf = (name) => headers[name];

    const event = FastEventRoutes.route("POST", "/v1/tenants/t.a/events");
    expect(event).toEqual({
      kind: "event",
      tenantId: "t.a",
      path: "/v1/tenants/t.a/events",
      label: "/v1/tenants/:tenantId/events",
    });
    const batch = FastEventRoutes.route("POST", "/v1/tenants/t.a/events/batch");
    expect(batch).toMatchObject({ kind: "batch", tenantId: "t.a" });
    // 2,000 bytes: over the single-event limit, within the batch limit.
    expect(event && routes.admits(event, header)).toBe(false);
    expect(batch && routes.admits(batch, header)).toBe(true);
    for (const tenant of ["nobody", "going", "t%2Ea"]) {
      const refused = FastEventRoutes.route("POST", `/v1/tenants/${tenant}/events/batch`);
      expect(refused?.tenantId).toBe(tenant);
      expect(refused && routes.admits(refused, header), tenant).toBe(false);
    }
    for (const path of [
      "/v1/tenants//events",
      "/v1/tenants/t.a/events/",
      "/v1/tenants/t.a/x/events",
      "/v1/tenants/t.a/endpoints",
      "/v1/tenants/t.a",
    ]) {
      expect(FastEventRoutes.route("POST", path), path).toBeUndefined();
    }
    expect(FastEventRoutes.route("GET", "/v1/tenants/t.a/events")).toBeUndefined();
  });
});
