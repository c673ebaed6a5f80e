import { describe, expect, it } from "vitest";
import { serviceNodeFlags, sourceNodeFlags } from "./node-flags";

describe("serviceNodeFlags", () => {
  it("reads each service's flags from its start script", () => {
    expect(serviceNodeFlags("ingest")).toEqual(["--enable-source-maps"]);
    expect(serviceNodeFlags("dlq")).toEqual(["--enable-source-maps"]);
    expect(sourceNodeFlags("dlq")).toEqual([]);
  });
});
