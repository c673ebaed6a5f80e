import { randomBytes } from "node:crypto";
import { pollUntil, type Sink, type Stack } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeadLetter, DlqClient } from "../support/dlq-client";
import { type E2eStackWithDlq, fastRetries, startE2eStack } from "../support/e2e-stack";
import type { IngestClient } from "../support/ingest-client";

const ingestToken = `e2e-logs-ingest-${randomBytes(12).toString("hex")}`;
const opsToken = `e2e-logs-ops-${randomBytes(12).toString("hex")}`;
const secretKey = randomBytes(32);
const secret = `whsec_${secretKey.toString("base64")}`;
const services = ["ingest", "delivery", "classifier", "dlq"] as const;
let e2e: E2eStackWithDlq;
let sink: Sink;
let stack: Stack;
let ingest: IngestClient;
let dlq: DlqClient;

/** What the scenario did, for the assertions on the logs it left. */
interface Scenario {
  endpointId: string;
  rotatedSecret: string;
  okTask: string;
  flakyTask: string;
  refusedTask: string;
}
let scenario: Scenario;

type LogLine = Record<string, unknown>;
/** Each service's output lines, parsed; set once the stack has stopped and flushed its logs. */
const parsed = new Map<string, { raw: string; json: LogLine | undefined }[]>();

beforeAll(async () => {
  e2e = await startE2eStack({
    prefix: "e2elogs",
    services,
    env: { LOG_LEVEL: "debug", ...fastRetries },
    ingestToken,
    opsToken,
  });
  ({ sink, stack, ingest, dlq } = e2e);
  scenario = await runScenario();
  // Stopping flushes the services' asynchronous log destinations; the lines stay readable.
  await stack.stop();
  for (const service of services) {
    parsed.set(
      service,
      stack
        .logs(service)
        .filter((line) => line.trim() !== "")
        .map((raw) => ({ raw, json: parseJsonObject(raw) })),
    );
  }
});

afterAll(() => e2e?.stop());

function parseJsonObject(raw: string): LogLine | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as LogLine)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One endpoint with a known secret, answering 200, then 503 once (retried), then 400 (dead
 * letter, replayed after the fix); the secret rotated and read back; a request with a bad token.
 */
async function runScenario(): Promise<Scenario> {
  const endpoint = await ingest.createEndpoint({ url: sink.url("/hook"), secret });
  expect(endpoint.secret).toBe(secret);
  sink.setSecrets("/hook", [secret]);

  const taskOf = async (payload: unknown) => {
    const posted = await ingest.postEvent({ eventType: "logs.checked", payload });
    expect(posted.status).toBe(202);
    return `${String(posted.json.eventId)}:${endpoint.id}`;
  };
  const okTask = await taskOf({ step: "ok" });
  await sink.waitFor(1, { path: "/hook" });
  sink.script("/hook", [{ status: 503 }]);
  const flakyTask = await taskOf({ step: "flaky" });
  await sink.waitFor(3, { path: "/hook" });
  sink.setDefault("/hook", { status: 400 });
  const refusedTask = await taskOf({ step: "refused" });
  let letters: DeadLetter[] = [];
  await pollUntil(
    async () => {
      letters = (await dlq.list({ endpointId: endpoint.id })).json.data;
      return letters.length === 1;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: "the dead letter" },
  );
  sink.setDefault("/hook", { status: 200 });
  expect((await dlq.replay(letters[0]?.id ?? "", "fixed")).status).toBe(202);
  await sink.waitFor(5, { path: "/hook" });
  expect(sink.deliveries("/hook").every((d) => d.verified)).toBe(true);

  const rotated = await ingest.request(`/v1/endpoints/${endpoint.id}/rotate-secret`, {
    method: "POST",
  });
  expect(rotated.status).toBe(200);
  const rotatedSecret = String(((await rotated.json()) as { secret: string }).secret);
  expect((await ingest.request(`/v1/endpoints/${endpoint.id}/secret`)).status).toBe(200);
  const bad = await fetch(`${stack.url("ingest")}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${ingestToken}x`, "content-type": "application/json" },
    body: "{}",
  });
  expect(bad.status).toBe(401);
  return { endpointId: endpoint.id, rotatedSecret, okTask, flakyTask, refusedTask };
}

function linesOf(service: string) {
  return parsed.get(service) ?? [];
}

describe("service logs", () => {
  it("are one JSON object per line, each naming its service", () => {
    for (const service of services) {
      const lines = linesOf(service);
      expect(lines.length, service).toBeGreaterThan(0);
      const notJson = lines.filter((line) => line.json === undefined).map((line) => line.raw);
      expect(notJson, `${service}: lines that are not JSON objects`).toEqual([]);
      const unnamed = lines.filter((line) => line.json?.service !== service).map((l) => l.raw);
      expect(unnamed, `${service}: lines without service "${service}"`).toEqual([]);
      const unlevelled = lines.filter((line) => typeof line.json?.level !== "number");
      expect(
        unlevelled.map((l) => l.raw),
        `${service}: lines without a level`,
      ).toEqual([]);
    }
  });

  it("log nothing at error level in a healthy run", () => {
    for (const service of services) {
      const errors = linesOf(service).filter((line) => Number(line.json?.level) >= 50);
      expect(
        errors.map((l) => l.raw),
        service,
      ).toEqual([]);
    }
  });

  it("name the task in a taskId field wherever a line is about one", () => {
    const tasks = [scenario.okTask, scenario.flakyTask, scenario.refusedTask];
    for (const service of services) {
      for (const task of tasks) {
        const about = linesOf(service).filter((line) => line.raw.includes(task));
        const withoutField = about.filter((line) => line.json?.taskId !== task);
        expect(
          withoutField.map((l) => l.raw),
          `${service}: lines that mention ${task} only in passing`,
        ).toEqual([]);
        // The task id is `<eventId>:<endpointId>`; both are fields of their own, for searching.
        const [eventId, endpointId] = [
          task.slice(0, task.lastIndexOf(":")),
          task.slice(task.lastIndexOf(":") + 1),
        ];
        const unsearchable = about.filter(
          (line) => line.json?.eventId !== eventId || line.json?.endpointId !== endpointId,
        );
        expect(
          unsearchable.map((l) => l.raw),
          `${service}: task lines without ids`,
        ).toEqual([]);
      }
    }
  });

  it("show each attempt in delivery and each decision in the classifier at debug level", () => {
    const handled = (task: string) =>
      linesOf("delivery")
        .filter((line) => line.json?.taskId === task && line.json.msg === "task handled")
        .map((line) => [line.json?.lane, line.json?.result, line.json?.status]);
    expect(handled(scenario.okTask)).toEqual([["fresh", "delivered", 200]]);
    expect(handled(scenario.flakyTask)).toEqual([
      ["fresh", "http_error", 503],
      ["retry", "delivered", 200],
    ]);
    expect(handled(scenario.refusedTask)).toEqual([
      ["fresh", "http_error", 400],
      ["retry", "delivered", 200],
    ]);

    const classified = (task: string) =>
      linesOf("classifier")
        .filter((line) => line.json?.taskId === task && line.json.msg === "outcome classified")
        .map((line) => [line.json?.result, line.json?.status, line.json?.action]);
    expect(classified(scenario.okTask)).toEqual([]);
    expect(classified(scenario.flakyTask)).toEqual([["http_error", 503, "retry"]]);
    expect(classified(scenario.refusedTask)).toEqual([["http_error", 400, "deadletter"]]);
  });

  it("record endpoint changes in ingest with the endpoint and the actor", () => {
    const changes = linesOf("ingest").filter((line) => typeof line.json?.change === "string");
    expect(
      changes
        .filter((line) => line.json?.endpointId !== undefined)
        .map((line) => [line.json?.change, line.json?.endpointId, line.json?.actor]),
    ).toEqual([
      ["created", scenario.endpointId, "e2e"],
      ["secret rotated", scenario.endpointId, "e2e"],
    ]);
    // The only other change: ingest creating the system tenant of operational events at start.
    expect(
      changes
        .filter((line) => line.json?.endpointId === undefined)
        .map((line) => [line.json?.change, line.json?.tenantId, line.json?.actor]),
    ).toEqual([["created", "hookline", "hookline"]]);
  });

  it("never contain a secret or a token", () => {
    const base64 = (value: string) => value.slice("whsec_".length);
    const secrets: Record<string, string> = {
      "the endpoint secret": secret,
      "its base64 key": base64(secret),
      "its key in hex": secretKey.toString("hex"),
      "the rotated secret's base64 key": base64(scenario.rotatedSecret),
      "the ingest token": ingestToken,
      "the ops token": opsToken,
    };
    const leaks: string[] = [];
    for (const service of services) {
      for (const { raw } of linesOf(service)) {
        for (const [what, value] of Object.entries(secrets)) {
          if (raw.includes(value)) leaks.push(`${service} logged ${what}: ${raw}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });
});
