import {
  decodeDeliveredOutcomes,
  Header,
  hooklineNames,
  type OutcomeMeta,
  RECORD_BATCH_MAX_BYTES,
} from "@hookline/contracts";
import { createLogger } from "@hookline/kit";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeOutcomeHeaders } from "./outcome";
import { createSuccessRecords } from "./success-records";
import { createWriteCoalescer } from "./write-coalescer";

let server: NatsServerHandle;
let nc: NatsConnection;
const names = hooklineNames();
const logger = createLogger({ service: "delivery", level: "silent", pretty: false });
const endpointA = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1D";
const endpointB = "ep_01JD8Z6Q3V4W5X6Y7Z8A9B0C1E";

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const outcome = (endpointId: string, n: number): OutcomeMeta => ({
  taskId: `evt_${n}:${endpointId}`,
  eventId: `evt_${n}`,
  eventType: "order.created",
  endpointId,
  tenantId: "acme",
  attempt: 1,
  deferrals: 0,
  createdAt: 1_750_000_000_000 + n,
  deadline: 1_750_086_400_000,
  history: [{ n: 1, at: 1_750_000_000_100 + n, result: "delivered", ms: 12, status: 200 }],
  result: "delivered",
  status: 200,
  durationMs: 12,
  responseBody: "ok",
});
const headersOf = (meta: OutcomeMeta) => encodeOutcomeHeaders(meta, `${meta.taskId}#1@1`);

/** Every message on the delivered subjects while `send` runs, and shortly after. */
async function published(send: () => Promise<void>): Promise<Msg[]> {
  const seen: Msg[] = [];
  const sub = nc.subscribe(names.subjects.outcomeDeliveredAll, {
    callback: (_, m) => {
      seen.push(m);
    },
  });
  await nc.flush();
  await send();
  await nc.flush();
  // The records travel on another connection: wait until both are through the server.
  await new Promise((resolve) => setTimeout(resolve, 100));
  sub.unsubscribe();
  return seen;
}

describe("createSuccessRecords", () => {
  it("publishes a write turn's records of one endpoint as one message, each endpoint apart", async () => {
    const publisher = await connect({ servers: server.url });
    const records = createSuccessRecords({ nc: publisher, names, logger });
    const writes = createWriteCoalescer(() => undefined, { afterWrites: records.publish });
    const metas = [1, 2, 3].map((n) => outcome(endpointA, n));
    const other = outcome(endpointB, 4);
    const seen = await published(async () => {
      for (const meta of [...metas, other]) {
        writes.defer(() =>
          records.add(meta.endpointId, headersOf(meta), Buffer.from(meta.eventId)),
        );
      }
      await writes.flushed();
      await publisher.flush();
    });
    await publisher.close();

    expect(seen.map((m) => m.subject).sort()).toEqual(
      [
        names.subjects.outcomeDelivered(endpointA),
        names.subjects.outcomeDelivered(endpointB),
      ].sort(),
    );
    const batch = seen.find((m) => m.subject === names.subjects.outcomeDelivered(endpointA));
    expect(batch?.headers?.get(Header.records)).toBe("3");
    expect(batch && decodeDeliveredOutcomes(batch)).toEqual({ ok: true, value: metas });
    // A record alone is a message of its own, as before batches.
    const alone = seen.find((m) => m.subject === names.subjects.outcomeDelivered(endpointB));
    expect(alone?.headers?.get(Header.records)).toBe("");
    expect(alone && decodeDeliveredOutcomes(alone)).toEqual({ ok: true, value: [other] });
    expect(Buffer.from(alone?.data ?? []).toString()).toBe("evt_4");
  });

  it("starts another message before a batch would pass its size limit", async () => {
    const publisher = await connect({ servers: server.url });
    const records = createSuccessRecords({ nc: publisher, names, logger });
    const body = Buffer.alloc(100 * 1024, 120);
    const metas = [1, 2, 3, 4, 5].map((n) => outcome(endpointA, n));
    const seen = await published(async () => {
      for (const meta of metas) records.add(meta.endpointId, headersOf(meta), body);
      records.publish();
      await publisher.flush();
    });
    await publisher.close();

    expect(seen.every((m) => m.data.byteLength <= RECORD_BATCH_MAX_BYTES)).toBe(true);
    expect(seen.map((m) => m.headers?.get(Header.records))).toEqual(["2", "2", ""]);
    const read = seen.flatMap((m) => {
      const decoded = decodeDeliveredOutcomes(m);
      return decoded.ok ? decoded.value : [];
    });
    expect(read).toEqual(metas);
  });
});
