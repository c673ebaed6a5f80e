import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger";

describe("createLogger", () => {
  it("writes JSON with the service name and redacts secrets and authorization", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ service: "ingest", level: "info", pretty: false, destination });
    logger.info(
      {
        req: { headers: { authorization: "Bearer top-secret-token" } },
        endpoint: { secret: "whsec_c2VjcmV0", secrets: [{ value: "whsec_b2xk" }] },
        token: "raw-token",
      },
      "hello",
    );
    const text = lines.join("");
    const entry = JSON.parse(text) as Record<string, unknown>;
    expect(entry.service).toBe("ingest");
    expect(entry.msg).toBe("hello");
    for (const secret of ["top-secret-token", "whsec_c2VjcmV0", "whsec_b2xk", "raw-token"]) {
      expect(text).not.toContain(secret);
    }
  });
});
