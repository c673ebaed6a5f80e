import { createSecretKey, randomBytes } from "node:crypto";
import type { EndpointRecord, TaskMeta } from "@hookline/contracts";
import { createSecretBox, SealedValueError, sealEndpointRecord } from "@hookline/kit";
import { describe, expect, it } from "vitest";
import { createEndpointCredentials } from "../signing/endpoint-credentials";
import { secretKey, webhookSignature } from "../signing/signature";
import { endpointTimeoutMs, webhookRequestFor } from "./webhook-request";

const secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const secretB = "whsec_dGhlIG90aGVyIHNlY3JldCBmb3Igcm90YXRpb24=";
const now = Date.parse("2025-06-01T12:00:00.500Z");
const key = (secret: string) => createSecretKey(secretKey(secret));

const endpoint: EndpointRecord = {
  id: "ep_01JABCDEFGHJKMNPQRSTVWXYZ0",
  url: "https://hooks.example.com/in",
  eventTypes: [],
  secrets: [{ value: secretA, createdAt: "2025-01-01T00:00:00Z" }],
  headers: { "X-Tenant": "acme", "User-Agent": "theirs" },
  disabled: false,
  createdAt: "2025-01-01T00:00:00Z",
  updatedAt: "2025-01-01T00:00:00Z",
};
const task: TaskMeta = {
  taskId: "evt_9:ep_01JABCDEFGHJKMNPQRSTVWXYZ0",
  eventId: "evt_9",
  eventType: "order.created",
  endpointId: endpoint.id,
  attempt: 0,
  deferrals: 0,
  createdAt: now - 5,
  deadline: now + 86_400_000,
};
const body = new TextEncoder().encode('{"type":"order.created"}');

describe("webhookRequestFor", () => {
  it("signs with the event id and the send time, and sends the body as is", () => {
    const request = webhookRequestFor(endpoint, task, body, now);
    const timestamp = Math.floor(now / 1000);
    expect(request.url).toBe(endpoint.url);
    expect(request.body).toBe(body);
    expect(request.headers).toEqual({
      "x-tenant": "acme",
      "content-type": "application/json",
      "user-agent": "Hookline/0.1",
      "webhook-id": "evt_9",
      "webhook-timestamp": String(timestamp),
      "webhook-signature": webhookSignature({ id: "evt_9", timestamp, body, keys: [key(secretA)] }),
    });
  });

  it("signs with every active secret, newest first, and skips expired ones", () => {
    const rotating: EndpointRecord = {
      ...endpoint,
      secrets: [
        { value: secretB, createdAt: "2025-05-31T00:00:00Z" },
        { value: secretA, createdAt: "2025-01-01T00:00:00Z", expiresAt: "2025-06-02T00:00:00Z" },
        {
          value: "whsec_b2xkIHNlY3JldA==",
          createdAt: "2024-01-01T00:00:00Z",
          expiresAt: "2025-01-02T00:00:00Z",
        },
      ],
    };
    const signatures = webhookRequestFor(rotating, task, body, now).headers["webhook-signature"];
    const timestamp = Math.floor(now / 1000);
    expect(signatures).toBe(
      webhookSignature({ id: "evt_9", timestamp, body, keys: [key(secretB), key(secretA)] }),
    );
    expect(signatures?.split(" ")).toHaveLength(2);
  });

  it("signs with the newest secret when every one has expired", () => {
    const expired: EndpointRecord = {
      ...endpoint,
      secrets: [
        { value: secretA, createdAt: "2024-01-01T00:00:00Z", expiresAt: "2024-02-01T00:00:00Z" },
      ],
    };
    expect(webhookRequestFor(expired, task, body, now).headers["webhook-signature"]).toMatch(
      /^v1,/,
    );
  });
});

describe("webhookRequestFor with sealed secrets and header values", () => {
  const box = createSecretBox([{ kid: "k1", key: randomBytes(32) }]);
  const sealed = sealEndpointRecord(box, endpoint);

  it("sends what the plain record sends, the header values opened", () => {
    expect(sealed.secrets[0]?.value).toMatch(/^enc:v1:k1:/);
    expect(sealed.headers?.["X-Tenant"]).toMatch(/^enc:v1:k1:/);
    const credentials = createEndpointCredentials(box);
    expect(webhookRequestFor(sealed, task, body, now, credentials)).toEqual(
      webhookRequestFor(endpoint, task, body, now),
    );
    // The second time from memory: the same answer.
    expect(webhookRequestFor(sealed, task, body, now, credentials).headers["x-tenant"]).toBe(
      "acme",
    );
  });

  it("refuses to sign without the key, and never sends a sealed value", () => {
    expect(() => webhookRequestFor(sealed, task, body, now)).toThrow(SealedValueError);
    const other = createEndpointCredentials(createSecretBox([{ kid: "k1", key: randomBytes(32) }]));
    expect(() => webhookRequestFor(sealed, task, body, now, other)).toThrow(/does not open/);
  });

  it("refuses a sealed secret or header value moved from another endpoint", () => {
    const credentials = createEndpointCredentials(box);
    // Opened (and kept) for its own endpoint first: the copy must still be refused.
    webhookRequestFor(sealed, task, body, now, credentials);
    const thief: EndpointRecord = { ...endpoint, id: "ep_01JABCDEFGHJKMNPQRSTVWXYZ1" };
    const movedSecret = { ...thief, secrets: sealed.secrets };
    expect(() => webhookRequestFor(movedSecret, task, body, now, credentials)).toThrow(
      SealedValueError,
    );
    const movedHeader = { ...thief, headers: sealed.headers };
    expect(() => webhookRequestFor(movedHeader, task, body, now, credentials)).toThrow(
      SealedValueError,
    );
  });
});

describe("endpointTimeoutMs", () => {
  it("defaults to 15 s and never exceeds 30 s", () => {
    expect(endpointTimeoutMs(endpoint)).toBe(15_000);
    expect(endpointTimeoutMs({ ...endpoint, timeoutMs: 300 })).toBe(300);
    expect(endpointTimeoutMs({ ...endpoint, timeoutMs: 60_000 })).toBe(30_000);
  });
});
