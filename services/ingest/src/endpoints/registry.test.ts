import { endpointRecordSchema } from "@hookline/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IngestHarness, startIngestHarness } from "../testing/ingest-harness";
import { ROTATION_GRACE_MS } from "./secrets";

let h: IngestHarness;
let now = Date.parse("2025-01-01T00:00:00.000Z");

beforeAll(async () => {
  h = await startIngestHarness({ prefix: "ingest_registry", now: () => now });
});
afterAll(async () => {
  await h?.close();
});

async function stored(id: string) {
  return endpointRecordSchema.parse((await h.kv.get(id))?.json());
}

describe("EndpointRegistry", () => {
  it("prunes rotated secrets once expired, on the next write", async () => {
    const created = await h.registry.create(
      { url: "https://example.com", eventTypes: [] },
      "tester",
    );
    if (created.outcome !== "created") throw new Error(created.outcome);
    const { id } = created.record;

    const rotated = await h.registry.rotateSecret(id, "tester");
    expect(rotated.outcome).toBe("rotated");
    expect((await stored(id)).secrets).toHaveLength(2);

    now += ROTATION_GRACE_MS - 1;
    await h.registry.update(id, { description: "still in grace" }, "tester");
    expect((await stored(id)).secrets).toHaveLength(2);

    now += 2;
    const updated = await h.registry.update(id, { description: "after grace" }, "tester");
    expect(updated.outcome).toBe("updated");
    const secrets = (await stored(id)).secrets;
    expect(secrets).toHaveLength(1);
    expect(rotated.outcome === "rotated" && secrets[0]?.value).toBe(
      rotated.outcome === "rotated" ? rotated.secret : undefined,
    );
  });

  it("a PATCHed secret becomes the newest and the old one enters its grace period", async () => {
    const created = await h.registry.create(
      { url: "https://example.com", eventTypes: [] },
      "tester",
    );
    if (created.outcome !== "created") throw new Error(created.outcome);
    const old = created.record.secrets[0]?.value;
    const secret = `whsec_${Buffer.alloc(24, 1).toString("base64")}`;
    const updated = await h.registry.update(created.record.id, { secret }, "tester");
    expect(updated.outcome === "updated" && updated.record.secrets.map((s) => s.value)).toEqual([
      secret,
      old,
    ]);
  });

  it("answers not_found for deleted and malformed ids", async () => {
    const created = await h.registry.create(
      { url: "https://example.com", eventTypes: [] },
      "tester",
    );
    if (created.outcome !== "created") throw new Error(created.outcome);
    expect(await h.registry.remove(created.record.id, "tester")).toEqual({ outcome: "deleted" });
    expect(h.cache.get(created.record.id)).toBeUndefined();
    expect(await h.registry.remove(created.record.id, "tester")).toEqual({ outcome: "not_found" });
    expect(await h.registry.update(created.record.id, {}, "t")).toEqual({ outcome: "not_found" });
    expect(await h.registry.rotateSecret("ep_*", "tester")).toEqual({ outcome: "not_found" });
  });

  it("many concurrent writers on one endpoint all land (compare-and-set with re-reads)", async () => {
    const created = await h.registry.create(
      { url: "https://example.com", eventTypes: [] },
      "tester",
    );
    if (created.outcome !== "created") throw new Error(created.outcome);
    const { id } = created.record;
    const types = ["a.one", "a.two", "a.three"];
    const results = await Promise.all([
      h.registry.update(id, { description: "d" }, "t"),
      h.registry.update(id, { timeoutMs: 500 }, "t"),
      h.registry.update(id, { rateLimitPerSecond: 9 }, "t"),
      h.registry.update(id, { eventTypes: types }, "t"),
    ]);
    expect(results.map((result) => result.outcome)).toEqual(Array(4).fill("updated"));
    expect(await stored(id)).toMatchObject({
      description: "d",
      timeoutMs: 500,
      rateLimitPerSecond: 9,
      eventTypes: types,
    });
  });
});
