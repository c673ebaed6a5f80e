import { startNatsServer } from "@hookline/testkit";
import { DiscardPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { watchStreamUsage } from "./backlog";
import { createLogger } from "./logger";
import { createServiceMetrics } from "./metrics";

/** The series of `name`, keyed by their labels other than service, as `STREAM` or `STREAM/discard`. */
async function values(
  metrics: ReturnType<typeof createServiceMetrics>,
  name: string,
): Promise<Record<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Object.fromEntries(
    (metric?.values ?? []).map(({ labels, value }) => [
      [labels.stream, labels.discard].filter((part) => part !== undefined).join("/"),
      value,
    ]),
  );
}

describe("watchStreamUsage", () => {
  it("exports usage of every stream, and limits only where a stream has one", async () => {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url });
    const metrics = createServiceMetrics("test");
    let stop: (() => void) | undefined;
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: "LIMITED",
        subjects: ["limited.>"],
        max_bytes: 1_000_000,
        discard: DiscardPolicy.New,
      });
      await jsm.streams.add({ name: "MSGS", subjects: ["msgs.>"], max_msgs: 50 });
      const js = jetstream(nc);
      for (let n = 0; n < 3; n++) await js.publish("limited.x", new Uint8Array(100));
      await js.publish("msgs.x", new Uint8Array(10));

      stop = watchStreamUsage({
        jsm,
        metrics,
        // A stream that does not exist (yet) is skipped, not fatal.
        streams: ["LIMITED", "MSGS", "MISSING"],
        logger: createLogger({ service: "test", level: "silent", pretty: false }),
        intervalMs: 100,
      });
      await expect
        .poll(() => values(metrics, "hookline_jetstream_stream_messages"), { timeout: 5_000 })
        .toEqual({ LIMITED: 3, MSGS: 1 });
      const bytes = await values(metrics, "hookline_jetstream_stream_bytes");
      expect(bytes.LIMITED).toBeGreaterThan(300);
      expect(bytes.MSGS).toBeGreaterThan(10);
      expect(await values(metrics, "hookline_jetstream_stream_max_bytes")).toEqual({
        "LIMITED/new": 1_000_000,
      });
      expect(await values(metrics, "hookline_jetstream_stream_max_messages")).toEqual({
        "MSGS/old": 50,
      });

      // A policy changed at run time replaces the series; a lifted limit takes it away.
      const msgs = await jsm.streams.info("MSGS");
      await jsm.streams.update("MSGS", { ...msgs.config, discard: DiscardPolicy.New });
      const limited = await jsm.streams.info("LIMITED");
      await jsm.streams.update("LIMITED", { ...limited.config, max_bytes: -1 });
      await expect
        .poll(() => values(metrics, "hookline_jetstream_stream_max_bytes"), { timeout: 5_000 })
        .toEqual({});
      await expect
        .poll(() => values(metrics, "hookline_jetstream_stream_max_messages"), { timeout: 5_000 })
        .toEqual({ "MSGS/new": 50 });
    } finally {
      stop?.();
      await nc.close();
      await nats.stop();
    }
  });
});
