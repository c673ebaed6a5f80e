import { describe, expect, it } from "vitest";
import { withoutCredentials } from "./nats";

describe("withoutCredentials", () => {
  it("keeps addresses and drops user:password for logs", () => {
    expect(withoutCredentials("nats://app:s3cret@nats-0:4222,nats://token@nats-1:4222")).toBe(
      "nats://nats-0:4222,nats://nats-1:4222",
    );
    expect(withoutCredentials("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});
