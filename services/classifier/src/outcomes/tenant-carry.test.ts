import {
  appendAttempt,
  deadLetterHeaderBlock,
  decodeDeadLetter,
  decodeTask,
  Header,
  type OutcomeMeta,
  type TaskMeta,
  TENANT_ID_PATTERN,
  taskHeaderBlock,
} from "@hookline/contracts";
import { headers as natsHeaders } from "@nats-io/transport-node";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "../scheduling/retry-plan";
import { scheduleBackoff } from "../scheduling/retry-strategies";
import { parseRetryTiers } from "../scheduling/retry-tiers";
import { rawTaskBlock, readRawTask } from "../tiers/raw-task";
import { deadLetterOfOutcome, decideOutcome } from "./decide-outcome";

const tiers = parseRetryTiers("5s,30s,2m");
if (!tiers.ok) throw new Error(tiers.error);
const policy: RetryPolicy = {
  backoff: scheduleBackoff([5_000, 30_000, 60_000], 0.2),
  tiers: tiers.tiers,
  jitter: 0.2,
  rateLimitedMinDelayMs: 60_000,
  overloadMinDelayMs: 60_000,
  networkMinDelayMs: 0,
  deferralMinDelayMs: 1_000,
  deferralMaxDelayMs: 120_000,
};
const now = 1_700_000_000_000;
const endpointId = "ep_01JD0000000000000000000000";

/**
 * Every task field set: `Required` makes a field added to TaskMeta fail to compile here until
 * it is added, and then the checks below see whether each copy carries it.
 */
const everyField: Required<TaskMeta> = {
  taskId: `evt_1:${endpointId}`,
  eventId: "evt_1",
  eventType: "order.created",
  endpointId,
  tenantId: "acme",
  attempt: 1,
  deferrals: 2,
  createdAt: now - 1_000,
  deadline: now + 86_400_000,
  notBefore: now - 10,
  history: appendAttempt([], { n: 1, at: now, result: "http_error", status: 500, ms: 3 }),
  replayOf: "dl_1",
};

function failed(task: TaskMeta, status: number): OutcomeMeta {
  const attempt = task.attempt + 1;
  return {
    ...task,
    notBefore: undefined,
    attempt,
    history: appendAttempt(task.history, {
      n: attempt,
      at: now,
      result: "http_error",
      status,
      ms: 3,
    }),
    result: "http_error",
    status,
    durationMs: 3,
  };
}

/** Header bytes as a consumer reads them (MsgHdrsImpl.decode is static in nats-core). */
function readBlock(block: Uint8Array) {
  const h = natsHeaders();
  return (h.constructor as unknown as { decode(a: Uint8Array): typeof h }).decode(block);
}

describe("the classifier's copies of a task", () => {
  it("keep every task field on the retry (its due time set) and on the dead letter", () => {
    const outcome = failed(everyField, 500);
    const decision = decideOutcome(outcome, policy.backoff, policy, now, () => 0.5);
    if (decision.action !== "retry") throw new Error(`expected a retry, got ${decision.action}`);
    const letter = deadLetterOfOutcome(outcome, "exhausted");
    for (const field of Object.keys(everyField) as (keyof TaskMeta)[]) {
      if (field === "notBefore") {
        expect(letter.notBefore).toBeUndefined();
        expect(decision.task.notBefore).toBeGreaterThan(now);
        continue;
      }
      expect(decision.task[field], `retry: ${field}`).toEqual(outcome[field]);
      expect(letter[field], `dead letter: ${field}`).toEqual(outcome[field]);
    }
    expect(letter.reason).toBe("exhausted");
  });

  it("carry the tenant from a failed outcome through a released retry to its dead letter", () => {
    const tenantIds = fc.option(
      fc.stringMatching(TENANT_ID_PATTERN).filter((id) => id !== "." && id !== ".."),
      { nil: undefined },
    );
    fc.assert(
      fc.property(tenantIds, (tenantId) => {
        const fresh: TaskMeta = { ...everyField, tenantId, attempt: 0, history: undefined };
        // 1. The first attempt failed with a 503: a retry, waiting in a tier.
        const first = decideOutcome(failed(fresh, 503), policy.backoff, policy, now, () => 0.5);
        if (first.action !== "retry") throw new Error(`expected a retry, got ${first.action}`);
        const waiting = taskHeaderBlock(first.task, "a#1@1");
        // 2. The tier releases it from its header bytes.
        const raw = readRawTask(waiting);
        expect(raw).toBeDefined();
        if (raw === undefined) return;
        const released = decodeTask(readBlock(rawTaskBlock(raw, "a#1@2")));
        if (!released.ok) throw new Error(released.error);
        expect(released.value.tenantId).toBe(tenantId);
        // 3. The next attempt gets a 400: dead-lettered.
        const second = failed(released.value, 400);
        const last = decideOutcome(second, policy.backoff, policy, now, () => 0.5);
        if (last.action !== "deadletter") throw new Error(`expected a dead letter: ${last.action}`);
        const block = readBlock(
          deadLetterHeaderBlock(deadLetterOfOutcome(second, last.reason), "x"),
        );
        const letter = decodeDeadLetter(block);
        if (!letter.ok) throw new Error(letter.error);
        expect(letter.value.tenantId).toBe(tenantId);
        expect(letter.value.reason).toBe("non_retryable");
        // Absent stays absent (the default tenant), never written as a value of its own.
        expect(block.get(Header.tenantId)).toBe(tenantId ?? "");
      }),
      { numRuns: 200 },
    );
  });
});
