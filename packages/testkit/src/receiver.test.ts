import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "./receiver";

const secret = "whsec_dGVzdGtpdC1yZWNlaXZlci1zZWNyZXQtMDEyMw==";

async function post(receiver: Receiver, path: string, id: string, signed = true) {
  const body = JSON.stringify({ type: "t", timestamp: "2026-01-02T03:04:05.678Z", data: {} });
  const timestamp = new Date();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": signed ? new Webhook(secret).sign(id, timestamp, body) : "v1,bad",
  };
  const res = await fetch(receiver.url(path), { method: "POST", headers, body });
  await res.arrayBuffer();
  return res.status;
}

describe("startReceiver", () => {
  const receivers: Receiver[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  it("answers per path, per request, and counts 2xx answers per webhook-id", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    receiver.setSecrets("/flaky", [secret]);
    receiver.behave("/flaky", (r) => ({ status: r.nth === 1 ? 500 : 200 }));
    receiver.behave("/gone", { status: 410 });

    expect(await post(receiver, "/flaky", "a")).toBe(500);
    expect(await post(receiver, "/flaky", "a")).toBe(200);
    expect(await post(receiver, "/flaky", "b")).toBe(500);
    expect(await post(receiver, "/flaky", "a", false)).toBe(200);
    expect(await post(receiver, "/gone", "c")).toBe(410);
    expect(await post(receiver, "/other", "d")).toBe(200);

    expect([...receiver.okCounts("/flaky")]).toEqual([["a", 2]]);
    expect([...receiver.okCounts()]).toEqual([
      ["a", 2],
      ["d", 1],
    ]);
    const flaky = receiver.requests("/flaky");
    expect(flaky.map((r) => [r.webhookId, r.nth, r.answeredStatus, r.verified])).toEqual([
      ["a", 1, 500, true],
      ["a", 2, 200, true],
      ["b", 1, 500, true],
      ["a", 3, 200, false],
    ]);
    expect(flaky[0]?.acceptedAt).toBe(Date.parse("2026-01-02T03:04:05.678Z"));
    expect(receiver.requests("/other")[0]?.verified).toBeUndefined();
    expect(receiver.stats("/flaky")).toMatchObject({ requests: 4, unverified: 1, inFlight: 0 });
  });

  it("tracks slow answers as in flight, with the peak concurrency per path", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    receiver.behave("/slow", { delayMs: 300 });
    const sending = Promise.all([1, 2, 3].map((n) => post(receiver, "/slow", `s${n}`)));
    await new Promise((r) => setTimeout(r, 150));
    expect(receiver.inFlight()).toBe(3);
    expect(receiver.okCounts("/slow").size).toBe(0);
    expect(await sending).toEqual([200, 200, 200]);
    expect(receiver.stats("/slow")).toMatchObject({ inFlight: 0, peakInFlight: 3 });
    expect(receiver.okCounts("/slow").size).toBe(3);
    expect(receiver.requests("/slow").every((r) => (r.answeredAt ?? 0) >= r.receivedAt + 290)).toBe(
      true,
    );
  });
});
