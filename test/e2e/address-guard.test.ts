import { decodeOutcome, hooklineNames } from "@hookline/contracts";
import {
  type NatsServerHandle,
  pollUntil,
  type Sink,
  type Stack,
  sleep,
  startNatsServer,
  startSink,
  startStack,
} from "@hookline/testkit";
import { jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestClient } from "../support/ingest-client";

const token = "e2e-guard-token";
let nats: NatsServerHandle;
let sink: Sink;
let nc: NatsConnection;
const stacks: Stack[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  sink = await startSink();
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  await nc?.close();
  await sink?.close();
  await nats?.stop();
});

async function stackWith(prefix: string, allowPrivate: boolean) {
  const stack = await startStack({
    natsUrl: nats.url,
    services: ["ingest", "delivery"],
    prefix,
    env: {
      INGEST_API_TOKENS: `e2e:${token}`,
      DELIVERY_ALLOW_PRIVATE_NETWORKS: String(allowPrivate),
    },
  });
  stacks.push(stack);
  return ingestClient(stack.url("ingest"), token);
}

describe("the address guard", () => {
  it("blocks 127.0.0.1 without the allow flag: no request, a blocked_destination outcome", async () => {
    const ingest = await stackWith("guardon", false);
    const endpoint = await ingest.createEndpoint({
      url: sink.url("/guarded"),
      eventTypes: ["g.e"],
    });
    const posted = await ingest.postEvent({ eventType: "g.e", payload: {} });
    expect(posted.status).toBe(202);

    const names = hooklineNames("guardon");
    const jsm = await jetstreamManager(nc);
    const subject = names.subjects.outcomeFailed(endpoint.id);
    // No classifier runs here, so the outcome stays on OUTCOMES to be read by subject.
    let msg: StoredMsg | null = null;
    await pollUntil(
      async () => {
        msg = await jsm.streams
          .getMessage(names.streams.outcomes, { last_by_subj: subject })
          .catch(() => null);
        return msg !== null;
      },
      { timeoutMs: 10_000, what: "the failed outcome" },
    );
    const outcome = decodeOutcome((msg as StoredMsg | null)?.header);
    expect(outcome.ok && outcome.value.result).toBe("blocked_destination");
    await sleep(300);
    expect(sink.count("/guarded")).toBe(0);
  });

  it("delivers to 127.0.0.1 with DELIVERY_ALLOW_PRIVATE_NETWORKS=true", async () => {
    const ingest = await stackWith("guardoff", true);
    const endpoint = await ingest.createEndpoint({ url: sink.url("/open"), eventTypes: ["g.e"] });
    sink.setSecrets("/open", [endpoint.secret]);
    await ingest.postEvent({ eventType: "g.e", payload: {} });
    const [delivery] = await sink.waitFor(1, { path: "/open" });
    expect(delivery?.verified).toBe(true);
  });
});
