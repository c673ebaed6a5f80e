import { describe, expect, it } from "vitest";
import { type LatestAttempt, type TaskLetter, type TaskState, taskState } from "./task-state";

const at = (second: number) => new Date(Date.UTC(2025, 2, 1, 12, 0, second));
const attempt = (second: number, result: string, decision: string | null): LatestAttempt => ({
  attemptedAt: at(second),
  result,
  decision,
});
const letter = (deadSecond: number, replaySecond: number | null = null): TaskLetter => ({
  deadAt: at(deadSecond),
  replayedAt: replaySecond === null ? null : at(replaySecond),
});

const cases: [string, LatestAttempt | undefined, TaskLetter | undefined, TaskState][] = [
  ["delivered", attempt(1, "delivered", null), undefined, "delivered"],
  ["a retry decision", attempt(1, "http_error", "retry"), undefined, "retrying"],
  [
    "a dead-letter decision, letter not stored yet",
    attempt(1, "http_error", "deadletter"),
    undefined,
    "dead_lettered",
  ],
  [
    "a dead-letter decision and its letter",
    attempt(1, "http_error", "deadletter"),
    letter(2),
    "dead_lettered",
  ],
  ["a letter without any attempt (backlog_full)", undefined, letter(2), "dead_lettered"],
  [
    "a death after a retry decision (expired, poison)",
    attempt(1, "timeout", "retry"),
    letter(5),
    "dead_lettered",
  ],
  [
    "a replay after the death, no attempt since",
    attempt(1, "http_error", "deadletter"),
    letter(2, 3),
    "replayed",
  ],
  ["a replayed letter without attempts", undefined, letter(2, 3), "replayed"],
  ["delivered after a replay", attempt(4, "delivered", null), letter(2, 3), "delivered"],
  ["retrying after a replay", attempt(4, "http_error", "retry"), letter(2, 3), "retrying"],
  [
    "dead again after a replay, letter not reopened yet",
    attempt(4, "http_error", "deadletter"),
    letter(2, 3),
    "dead_lettered",
  ],
  [
    "dead again after a replay, letter reopened",
    attempt(4, "http_error", "deadletter"),
    letter(5, 3),
    "dead_lettered",
  ],
  ["an ignored failure", attempt(1, "http_error", "ignore"), undefined, "failed"],
  ["a failure without a decision", attempt(1, "network_error", null), undefined, "failed"],
];

describe("a task's state", () => {
  it.each(cases)("%s", (_name, latest, taskLetter, expected) => {
    expect(taskState(latest, taskLetter)).toBe(expected);
  });
});
