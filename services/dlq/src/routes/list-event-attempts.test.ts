import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DlqApp } from "../app";
import { MAX_EVENT_ATTEMPTS } from "../attempts/listing";
import type { PublicAttempt } from "../http/attempt-schemas";
import {
  ACME_TOKEN,
  attemptRow,
  deliveredRow,
  getJson,
  insertAttempts,
  OPS_TOKEN,
  secondsAfterEvent,
  startAttemptReadHarness,
  truncateAttemptLog,
} from "../testing/attempt-fixtures";
import type { DlqHarness } from "../testing/dlq-harness";
import { endpointId } from "../testing/letters";

const OPS = OPS_TOKEN;
const ACME = ACME_TOKEN;

let h: DlqHarness;
let app: DlqApp;
beforeAll(async () => {
  ({ h, app } = await startAttemptReadHarness("dlq_event_attempts"));
}, 60_000);
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await truncateAttemptLog(h.database.db);
});

const at = secondsAfterEvent;
type EventAttempts = { data: PublicAttempt[]; truncated: boolean };
const listed = async (path: string, token = OPS) => {
  const answer = await getJson<EventAttempts>(app, path, token);
  expect(answer.status).toBe(200);
  return { ids: answer.body.data.map((a) => a.id), truncated: answer.body.truncated };
};

describe("GET /v1/events/{eventId}/attempts", () => {
  beforeEach(async () => {
    await insertAttempts(h.database.db, [
      attemptRow({ attempt_id: "second", attempted_at: at(3), attempt: 2 }),
      attemptRow({ attempt_id: "first", attempted_at: at(1) }),
      deliveredRow({
        attempt_id: "other-endpoint",
        attempted_at: at(2),
        endpoint_id: endpointId(2),
      }),
      attemptRow({ attempt_id: "acme", attempted_at: at(4), tenant_id: "acme" }),
      attemptRow({ attempt_id: "another-event", event_id: "evt_2" }),
    ]);
  });

  it("lists every task's attempts oldest first, in every tenant unless one is named", async () => {
    expect(await listed("/v1/events/evt_1/attempts")).toEqual({
      ids: ["first", "other-endpoint", "second", "acme"],
      truncated: false,
    });
    expect(await listed("/v1/events/evt_1/attempts?tenantId=default")).toEqual({
      ids: ["first", "other-endpoint", "second"],
      truncated: false,
    });
    const [first] = (await getJson<EventAttempts>(app, "/v1/events/evt_1/attempts", OPS)).body.data;
    expect(first).toMatchObject({ id: "first", taskId: `evt_1:${endpointId(1)}`, replay: false });
  });

  it("answers an event it knows nothing of with an empty list", async () => {
    expect(await listed("/v1/events/evt_none/attempts")).toEqual({ ids: [], truncated: false });
  });

  it("gives a tenant-bound token its tenant's attempts, and 404 when it names another", async () => {
    expect(await listed("/v1/events/evt_1/attempts", ACME)).toEqual({
      ids: ["acme"],
      truncated: false,
    });
    const foreign = await getJson(app, "/v1/events/evt_1/attempts?tenantId=default", ACME);
    expect(foreign.status).toBe(404);
    expect(foreign.contentType).toBe("application/problem+json");
    expect(foreign.body).toMatchObject({ code: "tenant_not_found" });
  });

  it.each([
    ["/v1/events/%20bad/attempts", "eventId"],
    [`/v1/events/${"e".repeat(129)}/attempts`, "eventId"],
    ["/v1/events/evt_1/attempts?tenantId=no%20spaces", "tenantId"],
  ])("answers %s with a 400 problem naming %s", async (path, field) => {
    const answer = await getJson<{ code: string; errors: { path: string }[] }>(app, path, OPS);
    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe("application/problem+json");
    expect(answer.body.errors.map((error) => error.path)).toContain(field);
  });
});

describe(`an event with more than ${MAX_EVENT_ATTEMPTS} attempts`, () => {
  it(`answers the oldest ${MAX_EVENT_ATTEMPTS}, saying it left some out`, async () => {
    await insertAttempts(
      h.database.db,
      Array.from({ length: MAX_EVENT_ATTEMPTS + 1 }, (_, i) =>
        attemptRow({ attempt_id: `a${String(i).padStart(5, "0")}`, attempted_at: at(i) }),
      ),
    );
    const { ids, truncated } = await listed("/v1/events/evt_1/attempts");
    expect(truncated).toBe(true);
    expect(ids).toHaveLength(MAX_EVENT_ATTEMPTS);
    expect(ids[0]).toBe("a00000");
    expect(ids.at(-1)).toBe(`a${String(MAX_EVENT_ATTEMPTS - 1).padStart(5, "0")}`);
  });
});
