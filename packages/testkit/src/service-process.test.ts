import { describe, expect, it } from "vitest";
import { runService } from "./service-process";

describe("runService", () => {
  it("reports an exit before the service listens at once, with its output", async () => {
    const running = runService("ingest", { PORT: "abc" });
    const started = Date.now();
    await expect(running.baseUrl(20_000)).rejects.toThrow(/ingest exited with code 78:\n.*PORT/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
