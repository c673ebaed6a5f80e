import { Header, hooklineNames } from "@hookline/contracts";
import { pollUntil, type Sink, sleep } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, fastRetries, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const prefix = "e2etenants";
const names = hooklineNames(prefix);
const EVENTS_PER_TENANT = 100;

let e2e: E2eStackWithDlq;
let sink: Sink;
let ingest: IngestClient;
let dlq: DlqClient;
let nc: NatsConnection;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier", "dlq"],
    env: { ...fastRetries, DELIVERY_BREAKER_VOLUME_THRESHOLD: "3", LOG_LEVEL: "warn" },
  });
  ({ sink, ingest, dlq } = e2e);
  nc = await connect({ servers: e2e.nats.url });
}, 120_000);

afterAll(async () => {
  await nc?.drain();
  await e2e?.stop();
});

/** Posts the events to the tenant, a few at a time; every one must be accepted with one task. */
async function postTenantEvents(tenantId: string, ids: string[], eventType: string) {
  for (let start = 0; start < ids.length; start += 20) {
    await Promise.all(
      ids.slice(start, start + 20).map(async (id) => {
        const res = await ingest.request(`/v1/tenants/${tenantId}/events`, {
          method: "POST",
          body: JSON.stringify({ id, eventType, payload: { tenantId, id } }),
        });
        expect(res.status, await res.clone().text()).toBe(202);
        expect(await res.json()).toMatchObject({ eventId: id, tasks: 1, duplicate: false });
      }),
    );
  }
}

/** Every dead letter of a tenant, through every page. */
async function lettersOfTenant(tenantId: string): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  let cursor: string | undefined;
  do {
    const search = new URLSearchParams({ tenantId, limit: "200" });
    if (cursor !== undefined) search.set("cursor", cursor);
    const res = await dlq.request(`/v1/dead-letters?${search}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { data: DeadLetter[]; nextCursor: string | null };
    letters.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return letters;
}

/** The Hookline-Tenant-Id of every fresh task published for the endpoints, by endpoint. */
function watchFreshTasks() {
  const tenantsByEndpoint = new Map<string, Set<string>>();
  const sub = nc.subscribe(`${prefix}.dispatch.fresh.>`, {
    callback: (error, msg) => {
      if (error) return;
      const endpointId = msg.headers?.get(Header.endpointId) ?? "";
      const seen = tenantsByEndpoint.get(endpointId) ?? new Set<string>();
      seen.add(msg.headers?.get(Header.tenantId) || "(none)");
      tenantsByEndpoint.set(endpointId, seen);
    },
  });
  return { tenantsByEndpoint, stop: () => sub.unsubscribe() };
}

describe("tenants through the pipeline", () => {
  it("delivers each tenant's events to its own endpoint only, signed", {
    timeout: 120_000,
  }, async () => {
    const tenants = ["tenant-a", "tenant-b"] as const;
    const endpoints = new Map<string, { id: string; secret: string }>();
    for (const tenantId of tenants) {
      await ingest.createTenant(tenantId);
      const endpoint = await ingest.createTenantEndpoint(tenantId, {
        url: sink.url(`/${tenantId}`),
        eventTypes: ["order.created"],
      });
      endpoints.set(tenantId, endpoint);
      sink.setSecrets(`/${tenantId}`, [endpoint.secret]);
    }
    const watched = watchFreshTasks();
    await nc.flush();

    const idsOf = (tenantId: string) =>
      Array.from({ length: EVENTS_PER_TENANT }, (_, i) => `${tenantId}-evt-${i}`);
    await Promise.all(
      tenants.map((tenantId) => postTenantEvents(tenantId, idsOf(tenantId), "order.created")),
    );

    for (const tenantId of tenants) {
      const received = await sink.waitFor(EVENTS_PER_TENANT, {
        path: `/${tenantId}`,
        timeoutMs: 60_000,
      });
      expect(received.every((delivery) => delivery.verified)).toBe(true);
      expect(new Set(received.map((delivery) => delivery.webhookId))).toEqual(
        new Set(idsOf(tenantId)),
      );
      expect(
        received.every(
          (d) => (d.json as { data: { tenantId: string } }).data.tenantId === tenantId,
        ),
      ).toBe(true);
    }
    // Nothing more arrives: exactly 100 each, no duplicates, nothing crossed over.
    await sleep(1_000);
    watched.stop();
    for (const tenantId of tenants) {
      expect(sink.count(`/${tenantId}`)).toBe(EVENTS_PER_TENANT);
      const endpoint = endpoints.get(tenantId);
      expect(watched.tenantsByEndpoint.get(endpoint?.id ?? "")).toEqual(new Set([tenantId]));
    }
    // Each tenant's secret verifies its own deliveries only.
    const [a, b] = [sink.deliveries("/tenant-a"), sink.deliveries("/tenant-b")];
    expect(a.every((d) => d.verifiedSecrets.join() === endpoints.get("tenant-a")?.secret)).toBe(
      true,
    );
    expect(b.every((d) => d.verifiedSecrets.join() === endpoints.get("tenant-b")?.secret)).toBe(
      true,
    );
  });

  it("dead-letters a deleted tenant's queued tasks as endpoint_deleted: none delivered, none lost", {
    timeout: 120_000,
  }, async () => {
    const tenantId = "tenant-gone";
    const path = "/tenant-gone-slow";
    const tasks = 20;
    // Slower than the endpoint's timeout: nothing it is sent can be delivered.
    sink.setDefault(path, { status: 503, delayMs: 5_000 });
    await ingest.createTenant(tenantId);
    const endpoint = await ingest.createTenantEndpoint(tenantId, {
      url: sink.url(path),
      eventTypes: ["order.created"],
      timeoutMs: 1_000,
      maxInFlight: 2,
      // Enough attempts that none is exhausted before the tenant goes.
      retrySchedule: Array.from({ length: 10 }, () => "500ms"),
    });
    sink.setSecrets(path, [endpoint.secret]);

    const ids = Array.from({ length: tasks }, (_, i) => `gone-evt-${i}`);
    await postTenantEvents(tenantId, ids, "order.created");
    // Two are with the endpoint, the rest wait behind its cap.
    await sink.waitFor(1, { path, timeoutMs: 10_000 });

    const requestsBefore = sink.count(path);
    const deleted = await ingest.request(`/v1/tenants/${tenantId}`, { method: "DELETE" });
    expect(deleted.status, await deleted.clone().text()).toBe(200);

    let letters: DeadLetter[] = [];
    await pollUntil(
      async () => {
        letters = await lettersOfTenant(tenantId);
        return letters.length >= tasks;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `${tasks} dead letters of ${tenantId}` },
    );
    expect(letters).toHaveLength(tasks);
    console.info(
      `deleted tenant: ${requestsBefore} requests before the delete, ` +
        `${sink.count(path) - requestsBefore} after (any: sent as it was deleted)`,
    );
    expect(new Set(letters.map((letter) => letter.eventId))).toEqual(new Set(ids));
    for (const letter of letters) {
      expect(letter).toMatchObject({
        tenantId,
        endpointId: endpoint.id,
        reason: "endpoint_deleted",
        status: "open",
      });
    }
    const detail = await dlq.get(letters[0]?.id ?? "");
    expect(detail.json.headers[Header.tenantId]).toBe(tenantId);

    // None delivered: no success outcome for the endpoint, and every request it got timed out.
    const jsm = await jetstreamManager(nc);
    const subject = names.subjects.outcomeDelivered(endpoint.id);
    const delivered = await jsm.streams.info(names.streams.attempts, {
      subjects_filter: subject,
    });
    expect(delivered.state.subjects?.[subject] ?? 0).toBe(0);
    // None left anywhere either: the endpoint's subjects are empty in every task stream.
    for (const [stream, taskSubject] of [
      [names.streams.dispatch, names.subjects.dispatchFresh(endpoint.id)],
      [names.streams.dispatchRetry, names.subjects.dispatchRetry(endpoint.id)],
      [names.streams.dispatchRetry, names.subjects.dispatchOverflow(endpoint.id)],
      [names.streams.outcomes, names.subjects.outcomeFailed(endpoint.id)],
      ...["200ms", "1s", "3s"].map(
        (tier) => [names.streams.retry, names.subjects.retry(tier, endpoint.id)] as const,
      ),
    ] as const) {
      const info = await jsm.streams.info(stream, { subjects_filter: taskSubject });
      expect(info.state.subjects?.[taskSubject] ?? 0, taskSubject).toBe(0);
    }

    const stats = await dlq.request(`/v1/dead-letters/stats?groupBy=tenant&tenantId=${tenantId}`);
    expect(((await stats.json()) as { byTenant: Record<string, number> }).byTenant).toEqual({
      [tenantId]: tasks,
    });
  });

  it("labels no metric by tenant", async () => {
    for (const service of ["ingest", "delivery", "classifier", "dlq"]) {
      const text = await (await fetch(`${e2e.stack.url(service)}/metrics`)).text();
      expect(text, service).not.toMatch(/[{,]tenant(_?id)?="/i);
      for (const tenantId of ["tenant-a", "tenant-b", "tenant-gone"]) {
        expect(text.includes(tenantId), `${service} names ${tenantId}`).toBe(false);
      }
    }
  });
});
