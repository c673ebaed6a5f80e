import { endpointRecordSchema } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_retry_policy" });
});
afterAll(async () => {
  await h?.close();
});

type Json = Record<string, unknown>;

async function create(body: Json): Promise<{ status: number; body: Json }> {
  const response = await h.call("POST", "/v1/endpoints", {
    url: "https://example.com/hook",
    ...body,
  });
  return { status: response.status, body: (await response.json()) as Json };
}

async function patch(id: string, body: Json): Promise<{ status: number; body: Json }> {
  const response = await h.call("PATCH", `/v1/endpoints/${id}`, body);
  return { status: response.status, body: (await response.json()) as Json };
}

async function stored(id: string) {
  const entry = await h.kv.get(id);
  if (entry === null) throw new Error(`no KV entry for ${id}`);
  return endpointRecordSchema.parse(entry.json());
}

describe("retryPolicy on endpoints", () => {
  it("stores and shows a policy; reads show it as written", async () => {
    const retryPolicy = {
      strategy: "exponential",
      baseDelay: "5s",
      maxDelay: "1h",
      maxAttempts: 10,
      jitter: 0.1,
    };
    const created = await create({ retryPolicy });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ retryPolicy, retrySchedule: null });
    const id = String(created.body.id);
    expect((await stored(id)).retryPolicy).toEqual(retryPolicy);
    const read = await h.call("GET", `/v1/endpoints/${id}`);
    expect(await read.json()).toMatchObject({ retryPolicy, retrySchedule: null });
  });

  it("shows a retrySchedule as the schedule policy it is, and null without either", async () => {
    const legacy = await create({ retrySchedule: ["1s", "10s"] });
    expect(legacy.body).toMatchObject({
      retrySchedule: ["1s", "10s"],
      retryPolicy: { strategy: "schedule", schedule: ["1s", "10s"] },
    });
    expect((await create({})).body).toMatchObject({ retrySchedule: null, retryPolicy: null });
  });

  it.each([
    [{ strategy: "fixed", maxAttempts: 21 }, "retryPolicy.maxAttempts: must be between 1 and 20"],
    [{ strategy: "fixed", maxAttempts: 0 }, "retryPolicy.maxAttempts: must be between 1 and 20"],
    [{ strategy: "linear", jitter: 1.2 }, "retryPolicy.jitter: must be between 0 and 1"],
    [
      { strategy: "linear", baseDelay: "500ms" },
      "retryPolicy.baseDelay: a duration from 1s up to the longest retry tier, such as 5s, 5m or 2h",
    ],
    [
      { strategy: "exponential", maxDelay: "11h" },
      "retryPolicy.maxDelay: must be between 1s and 10h (the longest of RETRY_TIERS)",
    ],
    [
      { strategy: "schedule", schedule: ["5s", "1d"] },
      "retryPolicy.schedule.1: must be between 1s and 10h (the longest of RETRY_TIERS)",
    ],
    [{ strategy: "schedule" }, 'retryPolicy.schedule: required when strategy is "schedule"'],
    [{ strategy: "backwards" }, "retryPolicy.strategy"],
    [{ strategy: "fixed", base: "5s" }, "retryPolicy"],
  ])("refuses %j with a 400 naming the field", async (retryPolicy, detail) => {
    const answer = await create({ retryPolicy });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe("invalid_request");
    expect(String(answer.body.detail)).toContain(detail);
    // On PATCH too.
    const id = String((await create({})).body.id);
    const patched = await patch(id, { retryPolicy });
    expect(patched.status).toBe(400);
    expect(String(patched.body.detail)).toContain(detail);
  });

  it("refuses retryPolicy and retrySchedule together", async () => {
    const both = {
      retrySchedule: ["1s"],
      retryPolicy: { strategy: "fixed", baseDelay: "2s" },
    };
    const answer = await create(both);
    expect(answer.status).toBe(400);
    expect(answer.body.detail).toBe(
      "retryPolicy: give retryPolicy or retrySchedule, not both (retryPolicy replaces it)",
    );
    const id = String((await create({})).body.id);
    expect((await patch(id, both)).status).toBe(400);
  });

  it("lets a PATCH replace one form with the other, and null clear it", async () => {
    const created = await create({ retrySchedule: ["1s", "10s"] });
    const id = String(created.body.id);
    const retryPolicy = { strategy: "fibonacci", baseDelay: "2s", maxAttempts: 6 };
    const withPolicy = await patch(id, { retryPolicy });
    expect(withPolicy.status).toBe(200);
    expect(withPolicy.body).toMatchObject({ retryPolicy, retrySchedule: null });
    expect((await stored(id)).retrySchedule).toBeUndefined();

    const withSchedule = await patch(id, { retrySchedule: ["3s"] });
    expect(withSchedule.body).toMatchObject({
      retrySchedule: ["3s"],
      retryPolicy: { strategy: "schedule", schedule: ["3s"] },
    });
    expect((await stored(id)).retryPolicy).toBeUndefined();

    await patch(id, { retryPolicy });
    const cleared = await patch(id, { retryPolicy: null });
    expect(cleared.body).toMatchObject({ retryPolicy: null, retrySchedule: null });
    const other = await patch(id, { description: "untouched policy" });
    expect(other.body).toMatchObject({ retryPolicy: null });
  });
});
