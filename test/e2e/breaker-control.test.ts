import type { EndpointGuardHealth } from "@hookline/contracts";
import { pollUntil, type Stack, startStack } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2eStack, startE2eStack } from "../support/e2e-stack";

const prefix = "e2ebrkctl";
const VOLUME_THRESHOLD = 4;
/** Far longer than the test: a task that goes out after the reset did not wait for a probe. */
const RESET_TIMEOUT = "10m";
const breakerEnv = {
  DELIVERY_BREAKER_VOLUME_THRESHOLD: String(VOLUME_THRESHOLD),
  DELIVERY_BREAKER_RESET_TIMEOUT: RESET_TIMEOUT,
  DELIVERY_MAX_IN_FLIGHT: "4",
};

let e2e: E2eStack;
/** The second delivery instance, on the same nats-server and prefix. */
let secondDelivery: Stack;

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix,
    services: ["ingest", "delivery", "classifier"],
    env: {
      ...breakerEnv,
      // Many quick retries: the failing tasks keep coming back until both breakers open.
      RETRY_SCHEDULE: Array.from({ length: 30 }, () => "200ms").join(","),
      RETRY_TIERS: "200ms,1s,3s",
      RETRY_JITTER: "0",
      RETRY_OVERLOAD_MIN_DELAY: "200ms",
      DEFERRAL_MAX_DELAY: "1s",
    },
  });
  secondDelivery = await startStack({
    natsUrl: e2e.nats.url,
    prefix,
    services: ["delivery"],
    env: { ...breakerEnv, DELIVERY_ALLOW_PRIVATE_NETWORKS: "true" },
  });
});

afterAll(async () => {
  await secondDelivery?.stop();
  await e2e?.stop();
});

type InstanceHealth = { instanceId: string; answered: boolean } & Partial<EndpointGuardHealth>;

async function healthOf(endpointId: string): Promise<InstanceHealth[]> {
  const response = await e2e.ingest.request(`/v1/endpoints/${endpointId}/health`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { endpointId: string; instances: InstanceHealth[] };
  expect(body.endpointId).toBe(endpointId);
  return body.instances;
}

describe("breaker state and reset across delivery instances", () => {
  it("opens in both instances, reads open in both, resets both, and the next task goes at once", async () => {
    const { ingest, sink } = e2e;
    const path = "/breaker-control";
    const endpoint = await ingest.createEndpoint({
      url: sink.url(path),
      eventTypes: ["breaker.control"],
    });
    sink.setSecrets(path, [endpoint.secret]);
    sink.setDefault(path, { status: 500, body: "down" });

    const events = Array.from({ length: 24 }, (_, n) => ({
      eventType: "breaker.control",
      payload: { n },
    }));
    const posted = await ingest.request("/v1/events/batch", {
      method: "POST",
      body: JSON.stringify({ events }),
    });
    expect(posted.status).toBe(202);

    let seen: InstanceHealth[] = [];
    await pollUntil(
      async () => {
        seen = await healthOf(endpoint.id);
        return seen.length === 2 && seen.every((i) => i.answered && i.breaker?.state === "open");
      },
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: "the breaker to be open in both delivery instances",
        detail: () => JSON.stringify(seen.map((i) => [i.instanceId, i.breaker?.state])),
      },
    );
    const instanceIds = seen.map((i) => i.instanceId).sort();
    expect(new Set(instanceIds).size).toBe(2);
    for (const instance of seen) {
      expect(instance.known).toBe(true);
      expect(instance.breaker?.failures).toBeGreaterThanOrEqual(1);
      expect(instance.breaker?.probeAt).not.toBeNull();
      // Its failed requests, then the attempts spent while open (the last ten of them).
      const attempts = instance.lastAttempts ?? [];
      expect(attempts.length).toBeGreaterThan(0);
      for (const attempt of attempts) {
        expect(
          attempt.result === "circuit_open" ||
            (attempt.result === "http_error" && attempt.status === 500),
        ).toBe(true);
      }
    }

    sink.setDefault(path, { status: 200 });
    const reset = await ingest.request(`/v1/endpoints/${endpoint.id}/breaker/reset`, {
      method: "POST",
    });
    expect(reset.status).toBe(200);
    const resetBody = (await reset.json()) as {
      allReset: boolean;
      instances: { instanceId: string; previousState: string; state: string }[];
    };
    expect(resetBody.allReset).toBe(true);
    expect(resetBody.instances.map((i) => i.instanceId).sort()).toEqual(instanceIds);
    for (const instance of resetBody.instances) {
      expect(instance).toMatchObject({ previousState: "open", state: "closed" });
    }
    const afterReset = await healthOf(endpoint.id);
    expect(afterReset.map((i) => i.breaker?.state)).toEqual(["closed", "closed"]);

    const fresh = await ingest.postEvent({
      id: "evt_after_reset",
      eventType: "breaker.control",
      payload: { after: "reset" },
    });
    expect(fresh.status).toBe(202);
    // Within a fraction of the ten-minute reset timeout: no probe was waited for.
    await pollUntil(
      async () =>
        sink
          .deliveries(path)
          .some((d) => d.webhookId === "evt_after_reset" && d.answeredStatus === 200),
      { timeoutMs: 15_000, intervalMs: 100, what: "the event posted after the reset delivered" },
    );
    const delivered = sink.deliveries(path).filter((d) => d.webhookId === "evt_after_reset");
    expect(delivered.every((d) => d.verified)).toBe(true);
    expect((await healthOf(endpoint.id)).every((i) => i.breaker?.state === "closed")).toBe(true);
  });
});
