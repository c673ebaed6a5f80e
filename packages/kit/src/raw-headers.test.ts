import { startNatsServer } from "@hookline/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { rawHeaderBytes } from "./raw-headers";

describe("rawHeaderBytes", () => {
  it("finds a pulled message's header block where nats.js keeps it", async () => {
    const server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "RAW", subjects: ["raw.>"] });
      await jsm.consumers.add("RAW", { durable_name: "raw", ack_policy: AckPolicy.Explicit });
      const js = jetstream(nc);
      const h = headers();
      h.set("Hookline-Task-Id", "evt_1:ep_1");
      await js.publish("raw.a", "body", { headers: h });
      await js.publish("raw.b", "no headers");
      const consumer = await js.consumers.get("RAW", "raw");
      const withHeaders = await consumer.next();
      const without = await consumer.next();
      if (!withHeaders || !without) throw new Error("expected two messages");

      const block = rawHeaderBytes(withHeaders);
      expect(block).toBeDefined();
      expect(new TextDecoder().decode(block)).toBe(
        "NATS/1.0\r\nHookline-Task-Id: evt_1:ep_1\r\n\r\n",
      );
      expect(withHeaders.string()).toBe("body");
      expect(rawHeaderBytes(without)).toBeUndefined();
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
