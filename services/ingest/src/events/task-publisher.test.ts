import { isBacklogFull } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, errors, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unavailableReason } from "./publisher";
import { pubAckTaskPublisher } from "./task-publisher";

let nats: NatsServerHandle;
let nc: NatsConnection;
const data = new TextEncoder().encode('{"n":1}');
const withMsgId = (id: string) => {
  const h = headers();
  h.set("Nats-Msg-Id", id);
  return h;
};

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "TP", subjects: ["tp.>"] });
  await jsm.streams.add({
    name: "TP_QUOTA",
    subjects: ["tq.>"],
    max_msgs_per_subject: 1,
    discard: "new" as never,
    discard_new_per_subject: true,
  });
  // Answers nothing: every publish here times out.
  nc.subscribe("silent.>", { callback: () => {} });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe("pubAckTaskPublisher", () => {
  it("resolves with the PubAck, and a repeated Nats-Msg-Id as a duplicate", async () => {
    const tasks = pubAckTaskPublisher(nc, 2_000);
    const [first, second] = await Promise.all([
      tasks.publish("tp.a", data, withMsgId("one")),
      tasks.publish("tp.b", data, withMsgId("two")),
    ]);
    expect(first).toMatchObject({ stream: "TP", duplicate: false });
    expect(second).toMatchObject({ stream: "TP", duplicate: false });
    expect(second.seq).not.toBe(first.seq);
    const again = await tasks.publish("tp.a", data, withMsgId("one"));
    expect(again).toMatchObject({ stream: "TP", seq: first.seq, duplicate: true });
  });

  it("publishes many at once, each with its own PubAck", async () => {
    const tasks = pubAckTaskPublisher(nc, 2_000);
    const acks = await Promise.all(
      Array.from({ length: 500 }, (_, n) => tasks.publish("tp.many", data, withMsgId(`m${n}`))),
    );
    expect(new Set(acks.map((ack) => ack.seq)).size).toBe(500);
  });

  it("rejects as js.publish does: API errors, no responders, timeouts", async () => {
    const tasks = pubAckTaskPublisher(nc, 200);
    await tasks.publish("tq.a", data, withMsgId("q1"));
    const full = await tasks.publish("tq.a", data, withMsgId("q2")).catch((error) => error);
    expect(isBacklogFull(full)).toBe(true);

    const nobody = await tasks.publish("nobody.here", data, withMsgId("n1")).catch((e) => e);
    expect(unavailableReason(nobody)).toBe("stream_unavailable");

    const started = Date.now();
    const silent = await tasks.publish("silent.a", data, withMsgId("s1")).catch((e) => e);
    expect(silent).toBeInstanceOf(errors.TimeoutError);
    expect(unavailableReason(silent)).toBe("publish_timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("rejects what waits, and what comes after, once the connection is closed", async () => {
    const own = await connect({ servers: nats.url });
    const tasks = pubAckTaskPublisher(own, 5_000);
    own.subscribe("silent2.>", { callback: () => {} });
    await own.flush();
    const waiting = tasks.publish("silent2.a", data, withMsgId("c1")).catch((e) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await own.close();
    expect(unavailableReason(await waiting)).toBe("nats_disconnected");
    const after = await tasks.publish("tp.c", data, withMsgId("c2")).catch((e) => e);
    expect(unavailableReason(after)).toBe("nats_disconnected");
  });
});
