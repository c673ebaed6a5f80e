import { decodeTask, isBacklogFull, type TaskMeta, taskHeaderBlock } from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, errors, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHeaderBlockPublisher, type HeaderBlockPublisher } from "./header-block-publisher";

let nats: NatsServerHandle;
let nc: NatsConnection;
const data = new TextEncoder().encode('{"n":1}');
const task: TaskMeta = {
  taskId: "evt_1:ep_01JD0000000000000000000000",
  eventId: "evt_1",
  eventType: "a.b",
  endpointId: "ep_01JD0000000000000000000000",
  attempt: 0,
  deferrals: 0,
  createdAt: 1_700_000_000_000,
  deadline: 1_700_100_000_000,
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

/** Publishes the test task with this Nats-Msg-Id. */
const publisherOf = (send: HeaderBlockPublisher) => ({
  publish: (subject: string, msgId: string) => send(subject, data, taskHeaderBlock(task, msgId)),
});

describe("createHeaderBlockPublisher", () => {
  it("resolves with the PubAck, and a repeated Nats-Msg-Id as a duplicate", async () => {
    const tasks = publisherOf(createHeaderBlockPublisher(nc, 2_000));
    const [first, second] = await Promise.all([
      tasks.publish("tp.a", "one"),
      tasks.publish("tp.b", "two"),
    ]);
    expect(first).toMatchObject({ stream: "TP", duplicate: false });
    expect(second).toMatchObject({ stream: "TP", duplicate: false });
    expect(second.seq).not.toBe(first.seq);
    const again = await tasks.publish("tp.a", "one");
    expect(again).toMatchObject({ stream: "TP", seq: first.seq, duplicate: true });
    const stored = await (await jetstreamManager(nc)).streams.getMessage("TP", { seq: first.seq });
    expect(stored?.header.get("Nats-Msg-Id")).toBe("one");
    expect(decodeTask(stored?.header)).toEqual({ ok: true, value: task });
    expect(stored?.string()).toBe('{"n":1}');
  });

  it("publishes many at once, each with its own PubAck", async () => {
    const tasks = publisherOf(createHeaderBlockPublisher(nc, 2_000));
    const acks = await Promise.all(
      Array.from({ length: 500 }, (_, n) => tasks.publish("tp.many", `m${n}`)),
    );
    expect(new Set(acks.map((ack) => ack.seq)).size).toBe(500);
  });

  it("rejects as js.publish does: API errors, no responders, timeouts", async () => {
    const tasks = publisherOf(createHeaderBlockPublisher(nc, 200));
    await tasks.publish("tq.a", "q1");
    const full = await tasks.publish("tq.a", "q2").catch((error) => error);
    expect(isBacklogFull(full)).toBe(true);

    const nobody = await tasks.publish("nobody.here", "n1").catch((e) => e);
    expect(nobody).toBeInstanceOf(errors.NoRespondersError);

    const started = Date.now();
    const silent = await tasks.publish("silent.a", "s1").catch((e) => e);
    expect(silent).toBeInstanceOf(errors.TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("rejects what waits, and what comes after, once the connection is closed", async () => {
    const own = await connect({ servers: nats.url });
    const tasks = publisherOf(createHeaderBlockPublisher(own, 5_000));
    own.subscribe("silent2.>", { callback: () => {} });
    await own.flush();
    const waiting = tasks.publish("silent2.a", "c1").catch((e) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await own.close();
    expect(await waiting).toBeInstanceOf(errors.ClosedConnectionError);
    const after = await tasks.publish("tp.c", "c2").catch((e) => e);
    expect(after).toBeInstanceOf(errors.ClosedConnectionError);
  });
});
