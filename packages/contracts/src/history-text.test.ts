import { describe, expect, it } from "vitest";
import { z } from "zod";
import { readHistoryText } from "./history-text";
import { attemptRecordSchema, HISTORY_LIMIT } from "./messages";

const historySchema = z.array(attemptRecordSchema).max(HISTORY_LIMIT);
const entry = { n: 1, at: 1_700_000_000_000, result: "http_error", status: 500, ms: 12 };
const withEntry = (change: Record<string, unknown>) => JSON.stringify([{ ...entry, ...change }]);

/** What contracts' schema reads from the text, or undefined where it refuses it. */
function bySchema(text: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const read = historySchema.safeParse(parsed);
  return read.success ? read.data : undefined;
}

const samples: [string, string][] = [
  ["one attempt", JSON.stringify([entry])],
  ["no attempt", "[]"],
  ["ten attempts", JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ ...entry, n: i })))],
  ["eleven attempts", JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ ...entry, n: i })))],
  ["an error and no status", withEntry({ status: undefined, error: "timeout", result: "timeout" })],
  ["an unknown key", withEntry({ x: 1 })],
  ["a count past safe integers", withEntry({ n: 2 ** 60 })],
  ["a time past safe integers", withEntry({ at: 2 ** 53 + 2 })],
  ["a fractional time", withEntry({ at: 1.5 })],
  ["a negative count", withEntry({ n: -1 })],
  ["a negative duration", withEntry({ ms: -1 })],
  ["an infinite duration", JSON.stringify([entry]).replace('"ms":12', '"ms":1e999')],
  ["a fractional duration", withEntry({ ms: 12.5 })],
  ["a status below 100", withEntry({ status: 99 })],
  ["a status above 599", withEntry({ status: 600 })],
  ["a fractional status", withEntry({ status: 200.5 })],
  ["a long error", withEntry({ error: "e".repeat(201) })],
  ["an unknown result", withEntry({ result: "nope" })],
  ["no duration", withEntry({ ms: undefined })],
  ["a duration as text", withEntry({ ms: "12" })],
  ["a null entry", "[null]"],
  ["an array entry", "[[1]]"],
  ["an object", JSON.stringify(entry)],
  ["text that is not JSON", "[{"],
];

describe("readHistoryText", () => {
  it.each(samples)("reads %s as contracts' schema does", (_, text) => {
    const expected = bySchema(text);
    const read = readHistoryText(text);
    if (expected === undefined) expect(read).toBeUndefined();
    else expect(read).toMatchObject(expected);
  });

  it("with exactKeys, also refuses a key the schema would strip", () => {
    expect(readHistoryText(withEntry({ x: 1 }), { exactKeys: true })).toBeUndefined();
    expect(readHistoryText(JSON.stringify([entry]), { exactKeys: true })).toEqual([entry]);
  });
});
