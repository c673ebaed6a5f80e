// The benchmark's load generator, a child process of `pnpm bench` so that its CPU is counted
// apart. Closed loop: `connections` requests always open. Paced (open loop): the n-th event is
// due at start + n/rate and is sent then whatever is still open, and its latency counts from
// that due time, so a slow system cannot hide its queueing (no coordinated omission).
import { Pool } from "undici";
import { type LoadPlan, type LoadReport, summarise } from "./protocol";

function now(): number {
  return performance.timeOrigin + performance.now();
}

async function runPlan(plan: LoadPlan): Promise<LoadReport> {
  const pool = new Pool(plan.origin, {
    connections: plan.connections,
    pipelining: 1,
    keepAliveTimeout: 120_000,
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (plan.token) headers.authorization = `Bearer ${plan.token}`;
  const pad = "x".repeat(plan.padBytes);
  const perRequest = Math.max(1, plan.batch);
  let accepted = new Uint8Array(1 << 16);
  let acceptedCount = 0;
  const rejected: Record<string, number> = {};
  const responseMs: number[] = [];
  let sent = 0;

  const markAccepted = (first: number, count: number) => {
    const end = first + count;
    if (end > accepted.length) {
      let size = accepted.length;
      while (size < end) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(accepted);
      accepted = grown;
    }
    accepted.fill(1, first, end);
    acceptedCount += count;
  };

  const eventAt = (n: number, sentAt: number) => ({
    id: `${plan.run}${n}`,
    eventType: plan.eventTypes[n % plan.eventTypes.length] ?? "bench.event",
    payload: { sentAt, pad },
  });

  const send = async (first: number, sentAt: number): Promise<void> => {
    const body =
      plan.batch > 0
        ? JSON.stringify({
            events: Array.from({ length: perRequest }, (_, i) => eventAt(first + i, sentAt)),
          })
        : JSON.stringify(eventAt(first, sentAt));
    try {
      const res = await pool.request({ method: "POST", path: plan.path, headers, body });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) {
        responseMs.push(now() - sentAt);
        markAccepted(first, perRequest);
      } else {
        rejected[res.statusCode] = (rejected[res.statusCode] ?? 0) + perRequest;
      }
    } catch {
      rejected.error = (rejected.error ?? 0) + perRequest;
    }
  };

  const cpuBefore = process.cpuUsage();
  const startedAt = now();
  const deadline = startedAt + plan.seconds * 1_000;
  if (plan.mode === "closed") {
    const worker = async () => {
      while (now() < deadline) {
        const first = sent;
        sent += perRequest;
        await send(first, now());
      }
    };
    await Promise.all(Array.from({ length: plan.connections }, worker));
  } else {
    const interval = 1_000 / (plan.rate ?? 1_000);
    const total = Math.floor((plan.seconds * 1_000) / interval);
    const open = new Set<Promise<void>>();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor((now() - startedAt) / interval) + 1);
        while (sent < due) {
          const n = sent;
          sent += perRequest;
          const request = send(n, startedAt + n * interval);
          open.add(request);
          void request.finally(() => open.delete(request));
        }
        if (sent >= total) resolve();
        else setTimeout(tick, Math.max(0, startedAt + sent * interval - now()));
      };
      tick();
    });
    await Promise.all(open);
  }
  const endedAt = now();
  const cpu = process.cpuUsage(cpuBefore);
  await pool.close();
  return {
    type: "done",
    sent,
    accepted: acceptedCount,
    rejected,
    startedAt,
    endedAt,
    response: summarise(responseMs),
    acceptedIds: Buffer.from(accepted.subarray(0, sent)).toString("base64"),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

process.on("message", (plan: LoadPlan) => {
  runPlan(plan).then(
    // Disconnect only once the report is written: a large one is still in the pipe otherwise.
    (report) => process.send?.(report, () => process.disconnect?.()),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
