import { startNatsServer } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger";
import { connectNats, drainOrClose, withoutCredentials } from "./nats";

const logger = createLogger({ service: "test", level: "silent", pretty: false });

describe("withoutCredentials", () => {
  it("keeps addresses and drops user:password for logs", () => {
    expect(withoutCredentials("nats://app:s3cret@nats-0:4222,nats://token@nats-1:4222")).toBe(
      "nats://nats-0:4222,nats://nats-1:4222",
    );
    expect(withoutCredentials("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});

describe("drainOrClose", () => {
  it("drains a connected link, closes one whose server is gone, and skips the rest", async () => {
    const nats = await startNatsServer();
    try {
      const drained = await connectNats({ url: nats.url, name: "drained", logger });
      await drainOrClose(drained);
      expect(drained.nc.isClosed()).toBe(true);
      await drainOrClose(drained);
      await drainOrClose(undefined);

      const orphaned = await connectNats({ url: nats.url, name: "orphaned", logger });
      await nats.kill();
      await expect.poll(() => orphaned.isConnected(), { timeout: 10_000 }).toBe(false);
      // drain() would reject here ("connection disconnected") and fail the shutdown step.
      await drainOrClose(orphaned);
      expect(orphaned.nc.isClosed()).toBe(true);
    } finally {
      await nats.stop();
    }
  });
});
