import {
  type ClassifiedOutcomeMeta,
  decodeLoggedAttempt,
  encodeClassifiedOutcome,
  encodeOutcome,
  Header,
  type OutcomeMeta,
} from "@hookline/contracts";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import type { Consumer, JsMsg, StoredMsg } from "@nats-io/jetstream";
import { connect, type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClassifierHarness,
  consumerBacklog,
  decodedTask,
  failedOutcome,
  lastOn,
  randomEndpointId,
  startClassifierHarness,
  waitForLastOn,
  waitUntil,
} from "../testing/classifier-harness";
import {
  appendClassification,
  type Classification,
  classifiedRecordHeaders,
} from "./classified-record";
import { createOutcomeHandler } from "./outcome-handler";

const body = new TextEncoder().encode('{"type":"order.created","timestamp":"x","data":{"id":1}}');
const EMPTY = new Uint8Array(0);

/** The bytes a MsgHdrs goes out as (nc.publish calls only encode()). */
const bytesOf = (h: MsgHdrs) => (h as unknown as { encode(): Uint8Array }).encode();
/** Header bytes as a consumer reads them (MsgHdrsImpl.decode is static in nats-core). */
function readBlock(block: Uint8Array): MsgHdrs {
  const h = natsHeaders();
  return (h.constructor as unknown as { decode(a: Uint8Array): MsgHdrs }).decode(block);
}
function logged(h: MsgHdrs | undefined) {
  const decoded = decodeLoggedAttempt(h);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value;
}

const outcome = failedOutcome(
  {
    endpointId: "ep_01JD0000000000000000000000",
    tenantId: "acme",
    attempt: 2,
    status: 503,
    retryAfterMs: 30_000,
    responseBody: "Service Unavailable: try later",
  },
  1_700_000_000_000,
);
const msgId = `${outcome.taskId}#2@41`;
const outcomeBlock = bytesOf(encodeOutcome(outcome, msgId));

describe("a classified outcome's headers", () => {
  it("append to the outcome's bytes what encodeClassifiedOutcome adds, byte for byte", () => {
    const meta: ClassifiedOutcomeMeta[] = [
      { ...outcome, decision: "deadletter", reason: "exhausted" },
      { ...outcome, decision: "ignore" },
    ];
    for (const classified of meta) {
      const classification: Classification =
        classified.reason === undefined
          ? { decision: "ignore" }
          : { decision: "deadletter", reason: classified.reason };
      const appended = appendClassification(outcomeBlock, classification);
      expect(Buffer.from(appended ?? EMPTY).toString("utf8")).toBe(
        Buffer.from(bytesOf(encodeClassifiedOutcome(classified, msgId))).toString("utf8"),
      );
    }
  });

  it("carry a retry's due time as Not-Before", () => {
    const appended = appendClassification(outcomeBlock, { decision: "retry", notBefore: 123 });
    const h = readBlock(appended ?? EMPTY);
    expect(logged(h)).toEqual({ ...outcome, decision: "retry", notBefore: 123 });
    expect(h.get(Header.msgId)).toBe(msgId);
    expect(h.has(Header.reason)).toBe(false);
  });

  it("are not appended to a block without its closing blank line", () => {
    const cut = outcomeBlock.subarray(0, outcomeBlock.length - 2);
    expect(appendClassification(cut, { decision: "ignore" })).toBeUndefined();
  });

  it("are encoded anew when the outcome's bytes are not at hand", () => {
    const h = readBlock(
      bytesOf(
        classifiedRecordHeaders(undefined, readBlock(outcomeBlock), outcome, 41, {
          decision: "deadletter",
          reason: "non_retryable",
        }),
      ),
    );
    expect(logged(h)).toEqual({ ...outcome, decision: "deadletter", reason: "non_retryable" });
    expect(h.get(Header.msgId)).toBe(msgId);
  });

  it("replace a Not-Before the outcome carried instead of adding a second one", () => {
    const stale = { ...outcome, notBefore: 5 };
    const staleHeaders = readBlock(bytesOf(encodeOutcome(stale, msgId)));
    const raw = bytesOf(encodeOutcome(stale, msgId));
    const retry = readBlock(
      bytesOf(
        classifiedRecordHeaders(raw, staleHeaders, stale, 41, { decision: "retry", notBefore: 9 }),
      ),
    );
    expect(retry.values(Header.notBefore)).toEqual(["9"]);
    const ignored = readBlock(
      bytesOf(classifiedRecordHeaders(raw, staleHeaders, stale, 41, { decision: "ignore" })),
    );
    expect(ignored.has(Header.notBefore)).toBe(false);
    expect(logged(ignored).decision).toBe("ignore");
  });

  it("get an id of their own, stable per outcome message, when the outcome has none", () => {
    const bare = natsHeaders();
    const h = readBlock(
      bytesOf(classifiedRecordHeaders(undefined, bare, outcome, 41, { decision: "ignore" })),
    );
    expect(h.get(Header.msgId)).toBe(`${outcome.taskId}#2.outcome@41`);
  });
});

describe("the outcome handler's attempt log records", () => {
  let nats: NatsServerHandle;
  let h: ClassifierHarness;
  let consumer: Consumer;
  let handle: (msg: JsMsg) => Promise<void>;

  beforeAll(async () => {
    nats = await startNatsServer();
    h = await startClassifierHarness({ natsUrl: nats.url, prefix: "cr" });
    consumer = await h.js.consumers.get(h.names.streams.outcomes, h.names.consumers.classifier);
    handle = createOutcomeHandler({ ...h.classifierOptions(), random: () => 0.5 });
  });

  afterAll(async () => {
    await h?.close();
    await nats?.stop();
  });

  /** Publishes a failed outcome as delivery does and pulls it, for the handler to run on. */
  async function pulled(meta: OutcomeMeta): Promise<{ msg: JsMsg; published: MsgHdrs }> {
    const published = encodeOutcome(meta, `${meta.taskId}#${meta.attempt}@${Math.random()}`);
    await h.js.publish(h.names.subjects.outcomeFailed(meta.endpointId), body, {
      headers: published,
    });
    const msg = await consumer.next({ expires: 5_000 });
    if (msg === null) throw new Error("no outcome pulled");
    expect(msg.headers?.get(Header.msgId)).toBe(published.get(Header.msgId));
    return { msg, published };
  }

  /**
   * Every record on the endpoint's classified subject. The handler core-publishes on the
   * harness's connection; a JetStream publish on it after the handler returns is stored after
   * them, so once its PubAck is in, the records are all in the stream.
   */
  async function recordsOf(endpointId: string): Promise<{ count: number; last?: StoredMsg }> {
    await h.js.publish(h.names.subjects.outcomeClassified(randomEndpointId()), EMPTY);
    const subject = h.names.subjects.outcomeClassified(endpointId);
    const info = await h.jsm.streams.info(h.names.streams.attempts, { subjects_filter: subject });
    const count = info.state.subjects?.[subject] ?? 0;
    return { count, last: await lastOn(h.jsm, h.names.streams.attempts, subject) };
  }

  async function theRecord(endpointId: string): Promise<StoredMsg> {
    const { count, last } = await recordsOf(endpointId);
    expect(count).toBe(1);
    if (last === undefined) throw new Error("no record");
    return last;
  }

  /** The record has every header of the outcome, unchanged. */
  function expectOutcomeHeaders(record: StoredMsg, published: MsgHdrs) {
    for (const key of published.keys()) {
      expect(record.header.get(key), key).toBe(published.get(key));
    }
  }

  it("logs a retry with its due time and, on a first attempt, the body", async () => {
    const meta = failedOutcome({ endpointId: randomEndpointId(), attempt: 1, status: 500 });
    const { msg, published } = await pulled(meta);
    await handle(msg);
    const retry = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("5s", meta.endpointId),
    );
    const record = await theRecord(meta.endpointId);
    expectOutcomeHeaders(record, published);
    expect(logged(record.header)).toEqual({
      ...meta,
      decision: "retry",
      notBefore: decodedTask(retry).notBefore,
    });
    expect(record.header.has(Header.reason)).toBe(false);
    expect(record.data).toEqual(body);
    // Appended to the outcome's own bytes, not encoded anew (which writes Not-Before earlier).
    expect([...record.header.keys()]).toEqual([
      ...published.keys(),
      Header.decision,
      Header.notBefore,
    ]);
  });

  it("logs a deferral as a retry, after the first attempt without the body", async () => {
    const meta = failedOutcome({
      endpointId: randomEndpointId(),
      attempt: 2,
      deferrals: 1,
      result: "rate_limited",
      retryAfterMs: 20_000,
    });
    const { msg, published } = await pulled(meta);
    await handle(msg);
    const retry = await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("2m", meta.endpointId),
    );
    const record = await theRecord(meta.endpointId);
    expectOutcomeHeaders(record, published);
    expect(logged(record.header)).toEqual({
      ...meta,
      decision: "retry",
      notBefore: decodedTask(retry).notBefore,
    });
    expect(record.data).toEqual(EMPTY);
  });

  it("logs a dead letter with its reason", async () => {
    const meta = failedOutcome({ endpointId: randomEndpointId(), attempt: 1, status: 400 });
    const { msg, published } = await pulled(meta);
    await handle(msg);
    await waitForLastOn(
      h.jsm,
      h.names.streams.deadletter,
      h.names.subjects.deadletter(meta.endpointId),
    );
    const record = await theRecord(meta.endpointId);
    expectOutcomeHeaders(record, published);
    expect(logged(record.header)).toEqual({
      ...meta,
      decision: "deadletter",
      reason: "non_retryable",
    });
    expect(record.header.has(Header.notBefore)).toBe(false);
    expect(record.data).toEqual(body);
  });

  it("logs an exhausted task's last attempt without the body", async () => {
    const meta = failedOutcome({
      endpointId: randomEndpointId(),
      attempt: 4,
      result: "network_error",
    });
    const { msg } = await pulled(meta);
    await handle(msg);
    const record = await theRecord(meta.endpointId);
    expect(logged(record.header)).toMatchObject({ decision: "deadletter", reason: "exhausted" });
    expect(record.data).toEqual(EMPTY);
  });

  it("logs a 410 as a dead letter, endpoint_gone", async () => {
    const meta = failedOutcome({ endpointId: randomEndpointId(), attempt: 1, status: 410 });
    const { msg } = await pulled(meta);
    await handle(msg);
    const record = await theRecord(meta.endpointId);
    expect(logged(record.header)).toEqual({
      ...meta,
      decision: "deadletter",
      reason: "endpoint_gone",
    });
  });

  it("logs a success on the failure subject as ignored", async () => {
    const meta = failedOutcome({ endpointId: randomEndpointId(), result: "delivered" });
    const { msg, published } = await pulled(meta);
    await handle(msg);
    const record = await theRecord(meta.endpointId);
    expectOutcomeHeaders(record, published);
    expect(logged(record.header)).toEqual({ ...meta, decision: "ignore" });
    expect(record.header.has(Header.notBefore)).toBe(false);
    expect(record.header.has(Header.reason)).toBe(false);
  });

  it("keeps one record of an outcome decided twice (redelivered after a crash)", async () => {
    const meta = failedOutcome({ endpointId: randomEndpointId(), attempt: 1, status: 502 });
    const { msg, published } = await pulled(meta);
    await handle(msg);
    await handle(msg);
    const record = await theRecord(meta.endpointId);
    expect(record.header.get(Header.msgId)).toBe(published.get(Header.msgId));
  });

  it("acks the outcome when the record cannot be published", async () => {
    const closed = await connect({ servers: nats.url });
    await closed.close();
    const handleClosed = createOutcomeHandler({
      ...h.classifierOptions(),
      nc: closed,
      random: () => 0.5,
    });
    const meta = failedOutcome({ endpointId: randomEndpointId(), attempt: 1, status: 500 });
    const { msg } = await pulled(meta);
    await handleClosed(msg);
    await waitForLastOn(
      h.jsm,
      h.names.streams.retry,
      h.names.subjects.retry("5s", meta.endpointId),
    );
    expect((await recordsOf(meta.endpointId)).count).toBe(0);
    await waitUntil("the outcome acked", async () => {
      const backlog = await consumerBacklog(
        h.jsm,
        h.names.streams.outcomes,
        h.names.consumers.classifier,
      );
      return backlog.pending === 0 && backlog.ackPending === 0;
    });
  });
});
