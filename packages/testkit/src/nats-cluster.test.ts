import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { startNatsCluster } from "./nats-cluster";
import { canConnect, pollUntil } from "./wait";

/** Creates a 3-replica stream over the raw NATS protocol (the testkit has no NATS client). */
async function createReplicatedStream(port: number, name: string): Promise<string> {
  const socket: Socket = connect({ host: "127.0.0.1", port });
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("utf8");
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const payload = JSON.stringify({
    name,
    subjects: [`${name.toLowerCase()}.>`],
    storage: "file",
    num_replicas: 3,
  });
  socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n');
  socket.write("SUB _INBOX.t 1\r\n");
  socket.write(`PUB $JS.API.STREAM.CREATE.${name} _INBOX.t ${Buffer.byteLength(payload)}\r\n`);
  socket.write(`${payload}\r\nPING\r\n`);
  const deadline = Date.now() + 10_000;
  while (!received.includes("MSG _INBOX.t") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  socket.destroy();
  return received;
}

describe("startNatsCluster", () => {
  it("starts three JetStream nodes, re-elects a killed stream leader, takes the node back", {
    timeout: 90_000,
  }, async () => {
    const cluster = await startNatsCluster();
    try {
      expect(cluster.nodes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
      expect(cluster.urls.split(",")).toEqual(cluster.nodes.map((n) => n.url));
      expect(await cluster.metaLeader()).toMatch(/^n[123]$/);
      const [first] = cluster.nodes;
      if (first === undefined) throw new Error("no node");
      expect(await createReplicatedStream(first.port, "REPL")).toContain("stream_create_response");

      let leader: string | undefined;
      await pollUntil(
        async () => {
          leader = await cluster.streamLeader("REPL");
          return leader !== undefined;
        },
        { timeoutMs: 10_000, what: "a leader for REPL" },
      );
      const groups = await cluster.leaders();
      expect(groups.map((g) => g.group)).toEqual(["meta", "REPL"]);
      expect(groups.find((g) => g.group === "REPL")?.leader).toBe(leader);
      const old = cluster.node(leader ?? "");
      const oldPid = old.pid;
      await old.kill();
      expect(old.running).toBe(false);
      expect(await canConnect(old.port)).toBe(false);

      let next: string | undefined;
      await pollUntil(
        async () => {
          next = await cluster.streamLeader("REPL");
          return next !== undefined && next !== old.name;
        },
        { timeoutMs: 30_000, what: "a new leader for REPL" },
      );
      expect(next).not.toBe(old.name);

      await old.start();
      expect(old.running).toBe(true);
      expect(old.pid).not.toBe(oldPid);
      expect(existsSync(old.storeDir)).toBe(true);
    } finally {
      await cluster.stop();
    }
    expect(await Promise.all(cluster.nodes.map((n) => canConnect(n.port)))).toEqual([
      false,
      false,
      false,
    ]);
    expect(existsSync(cluster.nodes[0]?.storeDir ?? "")).toBe(false);
  });
});
