import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Sink, startSink } from "./sink";

const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

function signedHeaders(secrets: string[], id: string, body: string): Record<string, string> {
  const now = new Date();
  const signature = secrets.map((s) => new Webhook(s).sign(id, now, body)).join(" ");
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": `${Math.floor(now.getTime() / 1000)}`,
    "webhook-signature": signature,
  };
}

describe("startSink", () => {
  let sink: Sink;
  const lines: string[] = [];

  beforeEach(async () => {
    lines.length = 0;
    sink = await startSink({ log: (line) => lines.push(line) });
  });
  afterEach(async () => {
    await sink.close();
  });

  it("verifies a payload signed with standardwebhooks and records it", async () => {
    const secret = newSecret();
    sink.setSecrets("/hook", [secret]);
    const body = JSON.stringify({ type: "order.created", timestamp: "now", data: { n: 1 } });
    const res = await fetch(sink.url("/hook?x=1"), {
      method: "POST",
      headers: signedHeaders([secret], "evt_1", body),
      body,
    });
    expect(res.status).toBe(200);

    const [d] = await sink.waitFor(1, { path: "/hook" });
    expect(d).toMatchObject({
      path: "/hook",
      url: "/hook?x=1",
      method: "POST",
      body,
      webhookId: "evt_1",
      verified: true,
      verifiedSecrets: [secret],
      answeredStatus: 200,
      json: { type: "order.created", timestamp: "now", data: { n: 1 } },
    });
    expect(d?.signatures).toHaveLength(1);
    expect(d?.signatures[0]).toMatch(/^v1,/);
    expect(d?.headers["content-type"]).toBe("application/json");
    expect(lines).toEqual(["POST /hook 200 verified webhook-id=evt_1 type=order.created"]);
  });

  it("records a tampered body as unverified", async () => {
    const secret = newSecret();
    sink.setSecrets("/hook", [secret]);
    const headers = signedHeaders([secret], "evt_2", '{"a":1}');
    await fetch(sink.url("/hook"), { method: "POST", headers, body: '{"a":2}' });
    const [d] = sink.deliveries("/hook");
    expect(d?.verified).toBe(false);
    expect(d?.verifiedSecrets).toEqual([]);
    expect(d?.json).toEqual({ a: 2 });
  });

  it("lists every registered secret that verified a multi-signature request", async () => {
    const [oldSecret, newer, other] = [newSecret(), newSecret(), newSecret()];
    sink.setSecrets("/rot", [oldSecret, newer, other]);
    const body = "not json, still signed";
    await fetch(sink.url("/rot"), {
      method: "POST",
      headers: signedHeaders([newer, oldSecret], "evt_3", body),
      body,
    });
    const [d] = sink.deliveries("/rot");
    expect(d?.signatures).toHaveLength(2);
    expect(d?.verifiedSecrets).toEqual([oldSecret, newer]);
    expect(d?.verified).toBe(true);
    expect(d?.json).toBeUndefined();
  });

  it("answers scripted statuses in order, then the default", async () => {
    sink.script("/s", [{ status: 500 }, { status: 429, retryAfter: "7" }, { status: 201 }]);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(sink.url("/s"), { method: "POST", body: `${i}` });
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
      statuses.push(res.status);
    }
    expect(statuses).toEqual([500, 429, 201, 200, 200]);
    expect(retryAfter).toBe("7");
    expect(sink.deliveries("/s").map((d) => d.answeredStatus)).toEqual(statuses);

    sink.setDefault("/s", { status: 503, body: "busy", headers: { "x-test": "1" } });
    const res = await fetch(sink.url("/s"), { method: "POST" });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("busy");
    expect(res.headers.get("x-test")).toBe("1");
    // Scripts are per path: another path still gets 200.
    expect((await fetch(sink.url("/other"))).status).toBe(200);
  });

  it("delays an answer", async () => {
    sink.script("/slow", [{ delayMs: 300 }]);
    const started = Date.now();
    const res = await fetch(sink.url("/slow"), { method: "POST" });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it("resets the connection, recording the request", async () => {
    sink.script("/reset", [{ reset: true }]);
    await expect(fetch(sink.url("/reset"), { method: "POST", body: "x" })).rejects.toThrow();
    const [d] = sink.deliveries("/reset");
    expect(d?.body).toBe("x");
    expect(d?.answeredStatus).toBeNull();
    expect(lines[0]).toContain("reset");
  });

  it("hangs until the client gives up, recording the request", async () => {
    sink.script("/hang", [{ hang: true }]);
    const started = Date.now();
    await expect(
      fetch(sink.url("/hang"), { method: "POST", signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(sink.count("/hang")).toBe(1);
    expect(sink.deliveries("/hang")[0]?.answeredStatus).toBeNull();
  });

  it("close() ends hanging requests instead of waiting for them", async () => {
    sink.setDefault("/hang", { hang: true });
    const pending = fetch(sink.url("/hang"), { method: "POST" });
    await sink.waitFor(1);
    await sink.close();
    await expect(pending).rejects.toThrow();
  });

  it("waitFor resolves on arrival and rejects with how many arrived", async () => {
    const waiting = sink.waitFor(2, { path: "/w", timeoutMs: 5_000 });
    await fetch(sink.url("/w"), { method: "POST" });
    await fetch(sink.url("/elsewhere"), { method: "POST" });
    await fetch(sink.url("/w"), { method: "POST" });
    expect(await waiting).toHaveLength(2);
    expect(sink.count()).toBe(3);

    await expect(sink.waitFor(5, { path: "/w", timeoutMs: 200 })).rejects.toThrow(
      "expected 5 deliveries at /w within 200ms, got 2 (3 at all paths: /w=2, /elsewhere=1)",
    );
    sink.clear();
    expect(sink.count()).toBe(0);
    expect(sink.deliveries()).toEqual([]);
  });
});
