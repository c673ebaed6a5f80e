import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger";
import { createOutageWarning } from "./outage-warning";

describe("createOutageWarning", () => {
  it("logs the first failure and stays quiet for the rest of the interval", () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on("data", (chunk: Buffer) => lines.push(chunk.toString("utf8")));
    const logger = createLogger({ service: "test", level: "info", pretty: false, destination });
    const warn = createOutageWarning(logger.child({ lane: "fresh" }), 60_000);
    warn(new Error("timeout"), "cannot store outcomes");
    warn(new Error("timeout"), "cannot store outcomes");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: 40,
      lane: "fresh",
      msg: "cannot store outcomes",
      err: { message: "timeout" },
    });
  });
});
