import { startNatsServer } from "@hookline/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { startConsumerPump } from "./consumer";
import { createLogger } from "./logger";

describe("startConsumerPump", () => {
  it("stops promptly when stopped while it is still starting to consume", async () => {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "PUMP", subjects: ["pump.>"] });
      await jsm.consumers.add("PUMP", { durable_name: "pump", ack_policy: AckPolicy.Explicit });
      for (let round = 0; round < 5; round++) {
        const pump = startConsumerPump({
          js: jetstream(nc),
          stream: "PUMP",
          consumer: "pump",
          concurrency: 4,
          handle: async (msg) => msg.ack(),
          logger: createLogger({ service: "test", level: "silent", pretty: false }),
        });
        // An empty stream: before the fix, stop() waited for a message that never came.
        const stopped = await Promise.race([
          pump.stop().then(() => "stopped"),
          new Promise((resolve) => setTimeout(() => resolve("hung"), 5_000)),
        ]);
        expect(stopped).toBe("stopped");
      }
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});
