import { pollUntil } from "@hookline/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PublicDeadLetter } from "../http/letter-schemas";
import type { LetterStats } from "../letters/stats";
import { bodyOf, type DlqHarness, startDlqHarness } from "../testing/dlq-harness";
import { endpointId, incomingLetter } from "../testing/letters";

let h: DlqHarness;
beforeAll(async () => {
  h = await startDlqHarness({ prefix: "dlq_replay_outage" });
});
afterAll(async () => {
  await h?.close();
});

describe("replaying while NATS is down", () => {
  it("answers 503, leaves the letters open, and replays them once NATS is back", async () => {
    const { id } = await h.store(incomingLetter({ endpointId: endpointId(1) }));
    await h.store(incomingLetter({ endpointId: endpointId(1) }));

    await h.nats.kill();
    const single = await h.call("POST", `/v1/dead-letters/${id}/replay`);
    expect(single.status).toBe(503);
    expect(single.headers.get("retry-after")).toBe("1");
    expect(await single.json()).toMatchObject({ code: "unavailable" });
    const bulk = await h.call("POST", "/v1/dead-letters/replay", { filter: {} });
    expect(bulk.status).toBe(503);
    const letter = await bodyOf<PublicDeadLetter>(await h.call("GET", `/v1/dead-letters/${id}`));
    expect(letter).toMatchObject({ status: "open", replayCount: 0 });

    await h.nats.restart();
    let replayed: Response | undefined;
    await pollUntil(
      async () => {
        replayed = await h.call("POST", "/v1/dead-letters/replay", { filter: {} });
        return replayed.status === 200;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: "replays to work again" },
    );
    expect(replayed?.status).toBe(200);
    // However the retries split the work, both letters were replayed once.
    const stats = await bodyOf<LetterStats>(await h.call("GET", "/v1/dead-letters/stats"));
    expect(stats.byStatus).toMatchObject({ open: 0, replayed: 2 });
    const info = await h.jsm.streams.info(h.names.streams.dispatchRetry);
    expect(info.state.messages).toBe(2);
  });
});
