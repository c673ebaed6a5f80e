import { decodeDeadLetter, Header, hooklineNames, type TaskMeta } from "@hookline/contracts";
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { publishTaskDeadLetter } from "./dead-letter";

const endpointId = "ep_01JD0000000000000000000000";
const task: TaskMeta = {
  taskId: `evt_1:${endpointId}`,
  eventId: "evt_1",
  eventType: "order.created",
  endpointId,
  tenantId: "acme",
  attempt: 3,
  deferrals: 1,
  createdAt: 1_700_000_000_000,
  deadline: 1_700_086_400_000,
  notBefore: 1_700_000_005_000,
  history: [{ n: 3, at: 1_700_000_004_000, result: "timeout", ms: 15_000 }],
  replayOf: "dl_1",
};

/** A JetStream client that keeps what it is asked to publish. */
function recordingClient() {
  const published: { subject: string; headers: MsgHdrs | undefined }[] = [];
  const js = {
    publish(subject: string, _body: Uint8Array, options?: Partial<JetStreamPublishOptions>) {
      published.push({ subject, headers: options?.headers });
      return Promise.resolve({ stream: "S", seq: 1, duplicate: false } as PubAck);
    },
  } as unknown as JetStreamClient;
  return { js, published };
}

describe("publishTaskDeadLetter", () => {
  it("dead-letters the task as it stands, its tenant included, without its due time", async () => {
    const { js, published } = recordingClient();
    const names = hooklineNames("kitdl");
    await publishTaskDeadLetter({
      js,
      names,
      task,
      body: new Uint8Array(),
      reason: "backlog_full",
      msgId: "evt_1#backlog@7",
    });
    const [sent] = published;
    expect(sent?.subject).toBe(names.subjects.deadletter(endpointId));
    expect(sent?.headers?.get(Header.tenantId)).toBe("acme");
    expect(sent?.headers?.get(Header.msgId)).toBe("evt_1#backlog@7");
    const decoded = decodeDeadLetter(sent?.headers);
    if (!decoded.ok) throw new Error(decoded.error);
    const { notBefore: _due, ...rest } = task;
    expect(decoded.value).toEqual({ ...rest, reason: "backlog_full" });
  });

  it("writes no tenant header for a task from before tenants", async () => {
    const { js, published } = recordingClient();
    const { tenantId: _tenant, ...old } = task;
    await publishTaskDeadLetter({
      js,
      names: hooklineNames("kitdl"),
      task: old,
      body: new Uint8Array(),
      reason: "backlog_full",
      msgId: "m",
    });
    expect(published[0]?.headers?.has(Header.tenantId)).toBe(false);
  });
});
