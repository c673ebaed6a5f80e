import { DEFAULT_BLOCKED_PORTS } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { ConfigError, endpointPortEnvShape, endpointPortPolicyFromEnv, parseEnv } from "./config";

describe("ENDPOINT_BLOCKED_PORTS and ENDPOINT_ALLOWED_PORTS", () => {
  it("default to the standard blocked ports and no allow-list", () => {
    const policy = endpointPortPolicyFromEnv(parseEnv(endpointPortEnvShape, {}));
    expect(policy).toEqual({ blocked: DEFAULT_BLOCKED_PORTS, allowed: undefined });
  });

  it("read ports, ranges and none", () => {
    const env = parseEnv(endpointPortEnvShape, {
      ENDPOINT_BLOCKED_PORTS: "none",
      ENDPOINT_ALLOWED_PORTS: "443, 8000-8999",
    });
    expect(endpointPortPolicyFromEnv(env)).toEqual({
      blocked: [],
      allowed: [
        { from: 443, to: 443 },
        { from: 8000, to: 8999 },
      ],
    });
  });

  it("an empty value is the default, as for every variable", () => {
    const env = parseEnv(endpointPortEnvShape, { ENDPOINT_BLOCKED_PORTS: "" });
    expect(env.ENDPOINT_BLOCKED_PORTS).toEqual(DEFAULT_BLOCKED_PORTS);
  });

  it("name a bad list", () => {
    const bad = { ENDPOINT_BLOCKED_PORTS: "22,ssh", ENDPOINT_ALLOWED_PORTS: "0" };
    let caught: unknown;
    try {
      parseEnv(endpointPortEnvShape, bad);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const { problems } = caught as ConfigError;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^ENDPOINT_BLOCKED_PORTS: expected ports/);
    expect(problems[1]).toMatch(/^ENDPOINT_ALLOWED_PORTS: expected ports/);
  });
});
