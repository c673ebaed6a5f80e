import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type NatsServerHandle, startNatsServer } from "./nats-server";
import { canConnect } from "./wait";

/**
 * Creates a stream over the raw NATS protocol: the testkit has no NATS client dependency, and
 * one request is enough to prove the JetStream store survives kill() and restart().
 */
async function createStream(port: number, name: string): Promise<string> {
  const socket: Socket = connect({ host: "127.0.0.1", port });
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("utf8");
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const payload = JSON.stringify({ name, subjects: [`${name.toLowerCase()}.>`], storage: "file" });
  socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n');
  socket.write("SUB _INBOX.t 1\r\n");
  socket.write(`PUB $JS.API.STREAM.CREATE.${name} _INBOX.t ${Buffer.byteLength(payload)}\r\n`);
  socket.write(`${payload}\r\nPING\r\n`);
  const deadline = Date.now() + 5_000;
  while (!received.includes("MSG _INBOX.t") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  socket.destroy();
  return received;
}

async function streamCount(monitorUrl: string): Promise<number> {
  const jsz = (await (await fetch(`${monitorUrl}/jsz`)).json()) as { streams: number };
  return jsz.streams;
}

describe("startNatsServer", () => {
  const servers: NatsServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it("starts JetStream on free ports and stops, removing its temp store", async () => {
    const nats = await startNatsServer();
    servers.push(nats);
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(nats.port).not.toBe(4222);
    expect(await canConnect(nats.port)).toBe(true);
    expect((await fetch(`${nats.monitorUrl}/healthz?js-enabled-only=true`)).status).toBe(200);
    expect(nats.logs().join("\n")).toContain("Server is ready");

    await nats.stop();
    expect(await canConnect(nats.port)).toBe(false);
    expect(existsSync(nats.storeDir)).toBe(false);
  });

  it("kill() keeps the store; restart() comes back on the same port with it", async () => {
    const nats = await startNatsServer();
    servers.push(nats);
    expect(await createStream(nats.port, "KEPT")).toContain(
      '"type":"io.nats.jetstream.api.v1.stream_create_response"',
    );
    expect(await streamCount(nats.monitorUrl)).toBe(1);

    const firstPid = nats.pid;
    await nats.kill();
    expect(await canConnect(nats.port)).toBe(false);

    await nats.restart();
    expect(nats.pid).not.toBe(firstPid);
    expect(await canConnect(nats.port)).toBe(true);
    expect(await streamCount(nats.monitorUrl)).toBe(1);

    // restart() of a running server stops it gracefully first.
    const secondPid = nats.pid;
    await nats.restart();
    expect(nats.pid).not.toBe(secondPid);
    expect(await streamCount(nats.monitorUrl)).toBe(1);
  });

  it("uses and keeps a given store dir", async () => {
    const dir = await mkdtemp(join(tmpdir(), "testkit-nats-given-"));
    try {
      const nats = await startNatsServer({ storeDir: join(dir, "store") });
      expect(nats.storeDir).toBe(join(dir, "store"));
      await nats.stop();
      expect(existsSync(join(dir, "store", "jetstream"))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("two servers run side by side", async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.storeDir).not.toBe(b.storeDir);
  });
});
