import { endpointRecordSchema } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";

let h: IngestHarness;

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_endpoint_format" });
});
afterAll(async () => {
  await h?.close();
});

describe("an endpoint's format", () => {
  it("is standard unless set, takes slack or discord, and goes back to standard on null", async () => {
    const plain = await h.call("POST", "/v1/endpoints", { url: "https://example.com/a" });
    expect(plain.status).toBe(201);
    expect(await plain.json()).toMatchObject({ format: "standard" });

    const slack = await h.call("POST", "/v1/endpoints", {
      url: "https://hooks.slack.com/services/T0/B0/x",
      format: "slack",
    });
    expect(slack.status).toBe(201);
    const created = (await slack.json()) as { id: string; format: string };
    expect(created.format).toBe("slack");
    const stored = await h.kv.get(created.id);
    expect(endpointRecordSchema.parse(stored?.json()).format).toBe("slack");

    const discord = await h.call("PATCH", `/v1/endpoints/${created.id}`, { format: "discord" });
    expect(await discord.json()).toMatchObject({ format: "discord" });
    const cleared = await h.call("PATCH", `/v1/endpoints/${created.id}`, { format: null });
    expect(await cleared.json()).toMatchObject({ format: "standard" });
    const after = await h.kv.get(created.id);
    expect(endpointRecordSchema.parse(after?.json()).format).toBeUndefined();
  });

  it("refuses another format with a 400 that names the field", async () => {
    const response = await h.call("POST", "/v1/endpoints", {
      url: "https://example.com/a",
      format: "teams",
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(await response.text()).toMatch(/format/);
  });
});
