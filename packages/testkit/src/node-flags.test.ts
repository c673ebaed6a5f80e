import { describe, expect, it } from "vitest";
import { serviceNodeFlags, sourceNodeFlags } from "./node-flags";

describe("serviceNodeFlags", () => {
  it("reads each service's flags from its start script", () => {
    expect(serviceNodeFlags("ingest")).toEqual(["--enable-source-maps"]);
    expect(serviceNodeFlags("dlq")).toEqual(["--enable-source-maps", "--max-semi-space-size=64"]);
    expect(sourceNodeFlags("dlq")).toEqual(["--max-semi-space-size=64"]);
  });
});
