import { appendAttempt, type OutcomeMeta } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "../scheduling/retry-plan";
import { scheduleBackoff } from "../scheduling/retry-strategies";
import { parseRetryTiers } from "../scheduling/retry-tiers";
import { decideOutcome } from "./decide-outcome";

const tiers = parseRetryTiers("5s,30s,2m,5m");
if (!tiers.ok) throw new Error(tiers.error);
const policy: RetryPolicy = {
  backoff: scheduleBackoff([5_000, 60_000], 0.2),
  tiers: tiers.tiers,
  jitter: 0.2,
  rateLimitedMinDelayMs: 60_000,
  overloadMinDelayMs: 60_000,
  networkMinDelayMs: 0,
  deferralMinDelayMs: 1_000,
  deferralMaxDelayMs: 600_000,
};
const now = 1_700_000_000_000;
const middle = () => 0.5;
const endpointId = "ep_01JD0000000000000000000000";

function outcome(changes: Partial<OutcomeMeta> = {}): OutcomeMeta {
  return {
    taskId: `evt_1:${endpointId}`,
    eventId: "evt_1",
    eventType: "order.created",
    endpointId,
    attempt: 1,
    deferrals: 0,
    createdAt: now - 1_000,
    deadline: now + 86_400_000,
    history: appendAttempt([], { n: 1, at: now, result: "http_error", status: 500, ms: 3 }),
    result: "http_error",
    status: 500,
    durationMs: 3,
    replayOf: "dl_1",
    ...changes,
  };
}

const decide = (meta: OutcomeMeta, backoff = policy.backoff) =>
  decideOutcome(meta, backoff, policy, now, middle);

describe("decideOutcome", () => {
  it("retries with the task's metadata kept and its due time set", () => {
    const failed = outcome();
    expect(decide(failed)).toEqual({
      action: "retry",
      kind: "attempt",
      tier: { name: "5s", ms: 5_000 },
      delayMs: 5_000,
      task: {
        taskId: failed.taskId,
        eventId: "evt_1",
        eventType: "order.created",
        endpointId,
        attempt: 1,
        deferrals: 0,
        createdAt: failed.createdAt,
        deadline: failed.deadline,
        notBefore: now + 5_000,
        history: failed.history,
        replayOf: "dl_1",
      },
    });
  });

  it("defers rate_limited (from an older delivery): deferrals + 1, attempt unchanged", () => {
    const decision = decide(
      outcome({
        result: "rate_limited",
        status: undefined,
        attempt: 3,
        deferrals: 2,
        retryAfterMs: 1_500,
      }),
    );
    expect(decision).toMatchObject({
      action: "retry",
      kind: "deferral",
      delayMs: 6_000,
      tier: { name: "30s" },
      task: { attempt: 3, deferrals: 3, notBefore: now + 6_000 },
    });
  });

  it("counts circuit_open as an attempt on the schedule, and exhausts it", () => {
    const open = { result: "circuit_open" as const, status: undefined };
    expect(decide(outcome({ ...open, attempt: 2 }))).toMatchObject({
      action: "retry",
      kind: "attempt",
      delayMs: 60_000,
      task: { attempt: 2, deferrals: 0, notBefore: now + 60_000 },
    });
    expect(decide(outcome({ ...open, attempt: 3 }))).toEqual({
      action: "deadletter",
      reason: "exhausted",
    });
  });

  it("dead-letters exhausted and expired retries", () => {
    expect(decide(outcome({ attempt: 3 }))).toEqual({ action: "deadletter", reason: "exhausted" });
    expect(decide(outcome({ deadline: now + 1_000 }))).toEqual({
      action: "deadletter",
      reason: "expired",
    });
    expect(decide(outcome({ result: "circuit_open", deadline: now + 10 }))).toEqual({
      action: "deadletter",
      reason: "expired",
    });
  });

  it("uses the backoff it is given (the endpoint's own)", () => {
    expect(
      decide(outcome({ attempt: 3 }), scheduleBackoff([1_000, 2_000, 3_000], 0.2)),
    ).toMatchObject({
      action: "retry",
      delayMs: 3_000,
    });
  });

  it("waits each kind of failure's own minimum: 429, 503 and timeouts, network errors", () => {
    const floors = {
      ...policy,
      rateLimitedMinDelayMs: 120_000,
      overloadMinDelayMs: 60_000,
      networkMinDelayMs: 30_000,
    };
    const delayFor = (changes: Partial<OutcomeMeta>) => {
      const decision = decideOutcome(outcome(changes), policy.backoff, floors, now, () => 0);
      return decision.action === "retry" ? decision.delayMs : decision.action;
    };
    expect(delayFor({ status: 429 })).toBe(120_000);
    expect(delayFor({ status: 503 })).toBe(60_000);
    expect(delayFor({ result: "timeout", status: undefined })).toBe(60_000);
    expect(delayFor({ result: "network_error", status: undefined })).toBe(30_000);
    // A 500 has no minimum: the schedule's 5 s, less the jitter at random() = 0.
    expect(delayFor({ status: 500 })).toBe(4_000);
  });

  it("dead-letters what can't be retried and asks to disable on 410", () => {
    expect(decide(outcome({ status: 404 }))).toEqual({
      action: "deadletter",
      reason: "non_retryable",
    });
    expect(decide(outcome({ result: "endpoint_missing", status: undefined }))).toEqual({
      action: "deadletter",
      reason: "endpoint_deleted",
    });
    expect(decide(outcome({ status: 410 }))).toEqual({
      action: "disable_endpoint",
      reason: "endpoint_gone",
    });
    expect(decide(outcome({ result: "delivered", status: 200 }))).toEqual({ action: "ignore" });
  });
});
