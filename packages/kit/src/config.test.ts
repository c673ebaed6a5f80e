import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  commonEnvShape,
  durationListEnv,
  numberListEnv,
  parseEnv,
  portEnv,
  tokenPairsEnv,
} from "./config";

const shape = {
  ...commonEnvShape,
  PORT: portEnv.default(8080),
  INGEST_API_TOKENS: tokenPairsEnv,
  RETRY_SCHEDULE: durationListEnv.default([5_000]),
};

describe("parseEnv", () => {
  it("applies defaults and parses typed values", () => {
    const env = parseEnv(shape, { INGEST_API_TOKENS: "dev:dev-ingest-token,ci:ci-token-123" });
    expect(env.PORT).toBe(8080);
    expect(env.HOOKLINE_PREFIX).toBe("hookline");
    expect(env.INGEST_DEDUPE_WINDOW).toBe(600_000);
    expect(env.HEAP_GROWTH_PERCENT).toBe(25);
    expect(env.INGEST_API_TOKENS).toEqual([
      { name: "dev", token: "dev-ingest-token" },
      { name: "ci", token: "ci-token-123" },
    ]);
  });

  it("names every bad variable in one error", () => {
    let error: unknown;
    try {
      parseEnv(shape, { PORT: "abc", HOOKLINE_PREFIX: "Bad.Prefix", RETRY_SCHEDULE: "5s,soon" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of [
      "PORT",
      "HOOKLINE_PREFIX",
      "RETRY_SCHEDULE",
      "INGEST_API_TOKENS is required",
    ]) {
      expect(message).toContain(name);
    }
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it("treats an empty variable as unset", () => {
    expect(parseEnv({ PORT: portEnv.default(1) }, { PORT: "" }).PORT).toBe(1);
  });

  it("rejects malformed token pairs without echoing the token", () => {
    const result = z.object({ T: tokenPairsEnv }).safeParse({ T: "no-colon-secret-value" });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).not.toContain("no-colon-secret-value");
  });
});

describe("numberListEnv", () => {
  it("sorts and dedupes, and refuses numbers out of bounds", () => {
    const thresholds = numberListEnv(1, 1_000_000, "50,100");
    expect(thresholds.parse(undefined)).toEqual([50, 100]);
    expect(thresholds.parse("100, 10,10")).toEqual([10, 100]);
    expect(thresholds.safeParse("0").success).toBe(false);
    expect(thresholds.safeParse("ten").success).toBe(false);
    expect(thresholds.safeParse("").success).toBe(false);
  });
});
