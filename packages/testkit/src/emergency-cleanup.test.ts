import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { repoRoot } from "./repo-root";
import { canConnect, sleep } from "./wait";

const leaky = fileURLToPath(new URL("./fixtures/leaky-process.ts", import.meta.url));

interface Leaked {
  nats: number;
  service: number;
  store: string;
  pgPort?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the leaky fixture in its own process; `signal` is sent once it has printed its pids. */
async function runLeaky(end: string, signal?: NodeJS.Signals, withPg = false): Promise<Leaked> {
  const child = spawn(process.execPath, ["--import", "tsx", leaky], {
    cwd: repoRoot(),
    // Embedded Postgres even under TEST_DATABASE_URL: a process that dies cannot drop a
    // database on a server it doesn't own, and that server would still answer on its port.
    env: { ...process.env, LEAK_END: end, LEAK_PG: withPg ? "1" : "0", TEST_DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const leaked = new Promise<Leaked>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve(JSON.parse(line) as Leaked);
    });
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const result = await Promise.race([
    leaked,
    exited.then(() => Promise.reject(new Error(`leaky process ended early:\n${out}\n${err}`))),
  ]);
  if (signal) child.kill(signal);
  await exited;
  return result;
}

/** What is left of a leaked process tree, once reaping had a moment to happen. */
async function leftovers(leaked: Leaked): Promise<string[]> {
  // SIGKILL is delivered at once, but reaping an orphan can lag a moment.
  for (let i = 0; i < 50 && (alive(leaked.nats) || alive(leaked.service)); i++) await sleep(50);
  const left: string[] = [];
  if (alive(leaked.nats)) left.push(`nats-server ${leaked.nats}`);
  if (alive(leaked.service)) left.push(`service ${leaked.service}`);
  if (existsSync(leaked.store)) left.push(leaked.store);
  if (leaked.pgPort !== undefined && (await canConnect(leaked.pgPort))) {
    left.push(`postgres on port ${leaked.pgPort}`);
  }
  return left;
}

// Each case runs a separate process tree, so they can run side by side.
describe.concurrent("emergency cleanup", { timeout: 60_000 }, () => {
  it("kills children and removes temp dirs on process.exit()", async ({ expect }) => {
    expect(await leftovers(await runLeaky("exit", undefined, true))).toEqual([]);
  });

  it("kills children on an uncaught exception", async ({ expect }) => {
    expect(await leftovers(await runLeaky("throw"))).toEqual([]);
  });

  it("kills children on SIGTERM when nothing else handles it", async ({ expect }) => {
    expect(await leftovers(await runLeaky("wait", "SIGTERM", true))).toEqual([]);
  });

  it("kills children on SIGINT when nothing else handles it", async ({ expect }) => {
    expect(await leftovers(await runLeaky("wait", "SIGINT"))).toEqual([]);
  });
});
