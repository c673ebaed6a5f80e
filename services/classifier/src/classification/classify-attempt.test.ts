import { type AttemptResult, attemptResults } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { type AttemptClassification, classifyAttempt } from "./classify-attempt";

function expectedForStatus(status: number): AttemptClassification {
  if (status === 410) return { decision: "gone" };
  if (status === 429) return { decision: "retry", floor: "rate_limited" };
  if (status === 503) return { decision: "retry", floor: "overloaded" };
  if (status === 408 || status === 425 || (status >= 500 && status <= 599)) {
    return { decision: "retry", floor: "none" };
  }
  return { decision: "deadletter", reason: "non_retryable" };
}

describe("classifyAttempt", () => {
  it("classifies every HTTP status from 100 to 599", () => {
    const retryable: number[] = [];
    for (let status = 100; status <= 599; status++) {
      const classification = classifyAttempt({ result: "http_error", status });
      expect(classification, `status ${status}`).toEqual(expectedForStatus(status));
      if (classification.decision === "retry") retryable.push(status);
    }
    // Spelled out once more, independent of expectedForStatus: exactly these retry.
    const fiveHundreds = Array.from({ length: 100 }, (_, i) => 500 + i);
    expect(retryable).toEqual([408, 425, 429, ...fiveHundreds]);
  });

  it("never retries 1xx, 2xx or 3xx", () => {
    for (const status of [100, 101, 200, 204, 299, 300, 301, 302, 304, 307, 308, 399]) {
      expect(classifyAttempt({ result: "http_error", status })).toEqual({
        decision: "deadletter",
        reason: "non_retryable",
      });
    }
  });

  it("dead-letters an http_error without a status as non_retryable", () => {
    expect(classifyAttempt({ result: "http_error" })).toEqual({
      decision: "deadletter",
      reason: "non_retryable",
    });
  });

  it("classifies every attempt result", () => {
    const expected: Record<AttemptResult, AttemptClassification> = {
      delivered: { decision: "delivered" },
      http_error: { decision: "retry", floor: "none" }, // with status 500, below
      timeout: { decision: "retry", floor: "overloaded" },
      network_error: { decision: "retry", floor: "network" },
      circuit_open: { decision: "retry", floor: "none" },
      rate_limited: { decision: "defer" },
      endpoint_disabled: { decision: "deadletter", reason: "endpoint_disabled" },
      endpoint_missing: { decision: "deadletter", reason: "endpoint_deleted" },
      blocked_destination: { decision: "deadletter", reason: "non_retryable" },
    };
    for (const result of attemptResults) {
      const status = result === "http_error" ? 500 : undefined;
      expect(classifyAttempt({ result, status }), result).toEqual(expected[result]);
    }
  });

  it("ignores a status on results that are not HTTP answers", () => {
    expect(classifyAttempt({ result: "timeout", status: 410 })).toEqual({
      decision: "retry",
      floor: "overloaded",
    });
    expect(classifyAttempt({ result: "circuit_open", status: 400 })).toEqual({
      decision: "retry",
      floor: "none",
    });
    expect(classifyAttempt({ result: "rate_limited", status: 400 })).toEqual({ decision: "defer" });
  });
});
