import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { type Stack, type StartStackOptions, startStack } from "./stack";

const fixture = fileURLToPath(new URL("./fixtures/ready-service.ts", import.meta.url));
const base: Omit<StartStackOptions, "services"> = {
  natsUrl: "nats://127.0.0.1:1",
  entry: () => fixture,
  serviceEnv: {},
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startStack", () => {
  const stacks: Stack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.splice(0).map((s) => s.stop()));
  });

  it("starts services with their env, restarts one, and stops all", async () => {
    const inheritedDb = process.env.DATABASE_URL;
    process.env.DATABASE_URL = "postgres://must-not-leak";
    let stack: Stack;
    try {
      stack = await startStack({
        ...base,
        services: ["alpha", "beta"],
        prefix: "t_stack",
        env: { EXTRA: "common", FIXTURE_NAME: "svc" },
        serviceEnv: { beta: { EXTRA: "beta-only", FIXTURE_NAME: "beta" } },
      });
    } finally {
      if (inheritedDb === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = inheritedDb;
    }
    stacks.push(stack);

    const envOf = async (svc: string) =>
      (await (await fetch(`${stack.url(svc)}/env`)).json()) as Record<string, string | null>;
    expect(await envOf("alpha")).toEqual({
      NATS_URL: "nats://127.0.0.1:1",
      HOOKLINE_PREFIX: "t_stack",
      PORT: `${stack.port("alpha")}`,
      LOG_LEVEL: "info",
      DATABASE_URL: null,
      EXTRA: "common",
    });
    expect((await envOf("beta")).EXTRA).toBe("beta-only");
    expect(stack.url("beta")).toBe(`http://127.0.0.1:${stack.port("beta")}`);
    expect(stack.logs("beta").join("\n")).toContain("beta ready");
    expect(() => stack.url("gamma")).toThrow(/no service "gamma"/);

    const before = stack.pid("alpha");
    await stack.restart("alpha");
    expect(stack.pid("alpha")).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect((await fetch(`${stack.url("alpha")}/readyz`)).status).toBe(200);
    expect(stack.logs("alpha").join("\n")).toMatch(/got SIGTERM[\s\S]*restarting alpha/);

    const pids = [stack.pid("alpha"), stack.pid("beta")];
    await stack.stop();
    expect(pids.map(alive)).toEqual([false, false]);
  });

  it("runs extra instances, kills one, starts it again, and terminates one", async () => {
    const stack = await startStack({
      ...base,
      services: ["alpha", "beta"],
      instances: { alpha: 2 },
      serviceEnv: { alpha: { EXTRA: "both" }, "alpha-2": { FIXTURE_NAME: "second" } },
    });
    stacks.push(stack);
    expect(stack.names()).toEqual(["alpha", "alpha-2", "beta"]);
    expect(stack.port("alpha")).not.toBe(stack.port("alpha-2"));
    const env = (await (await fetch(`${stack.url("alpha-2")}/env`)).json()) as Record<
      string,
      string
    >;
    expect(env.EXTRA).toBe("both");
    expect(stack.logs("alpha-2").join("\n")).toContain("second ready");

    const pid = stack.pid("alpha-2");
    expect(await stack.kill("alpha-2")).toEqual({ code: null, signal: "SIGKILL" });
    expect(alive(pid)).toBe(false);
    expect(stack.running("alpha-2")).toBe(false);
    expect(stack.running("alpha")).toBe(true);
    await stack.start("alpha-2");
    expect(stack.running("alpha-2")).toBe(true);
    expect((await fetch(`${stack.url("alpha-2")}/readyz`)).status).toBe(200);
    await expect(stack.start("alpha-2")).rejects.toThrow(/still running/);

    expect(await stack.terminate("beta")).toEqual({ code: 0, signal: null });
    expect(stack.logs("beta").join("\n")).toContain("got SIGTERM");
    await stack.start("beta");
    expect((await fetch(`${stack.url("beta")}/readyz`)).status).toBe(200);
  });

  it("fails with the service's last log lines when it dies, and stops the others", async () => {
    const lines: string[] = [];
    const started = startStack({
      ...base,
      services: ["good", "bad"],
      serviceEnv: {
        good: { FIXTURE_NAME: "good" },
        bad: { FIXTURE_MODE: "crash", FIXTURE_NAME: "bad" },
      },
      onLog: (service, line) => lines.push(`${service}: ${line}`),
    });
    await expect(started).rejects.toThrow("service bad exited with code 3 before it was ready");
    await expect(started).rejects.toThrow("bad: refusing to start (FIXTURE_MODE=crash)");
    expect(lines).toContain("good: good got SIGTERM");
  });

  it("times out on a service that never becomes ready", async () => {
    // Long enough for the fixture to start and log under a busy test run (tsx start-up alone
    // took over 1.5 s there), so its line is in the error.
    await expect(
      startStack({
        ...base,
        services: ["slow"],
        readyTimeoutMs: 8000,
        env: { FIXTURE_MODE: "unready", FIXTURE_NAME: "slow" },
      }),
    ).rejects.toThrow(/Timed out after 8000ms waiting for service slow[\s\S]*slow ready/);
  });

  it("moves a service whose free port was taken to another one", async () => {
    const marker = join(await mkdtemp(join(tmpdir(), "testkit-stack-")), "taken");
    try {
      const stack = await startStack({
        ...base,
        services: ["racer"],
        env: { FIXTURE_MODE: "taken", FIXTURE_MARKER: marker },
      });
      stacks.push(stack);
      expect(stack.logs("racer").join("\n")).toContain(
        `port taken; retrying racer on port ${stack.port("racer")}`,
      );
      expect((await fetch(`${stack.url("racer")}/readyz`)).status).toBe(200);
    } finally {
      await rm(dirname(marker), { recursive: true, force: true });
    }
  });

  it("runs built services with node --enable-source-maps, and no tsx", async () => {
    const dir = await mkdtemp(join(tmpdir(), "testkit-built-"));
    try {
      const entry = join(dir, "main.mjs");
      // Answers /readyz with the flags node was started with.
      await writeFile(
        entry,
        `import { createServer } from "node:http";
        createServer((req, res) => res.end(JSON.stringify(process.execArgv)))
          .listen(Number(process.env.PORT), "127.0.0.1");
        process.on("SIGTERM", () => process.exit(0));`,
      );
      const stack = await startStack({
        ...base,
        services: ["built"],
        runtime: "built",
        entry: () => entry,
      });
      stacks.push(stack);
      expect(await (await fetch(`${stack.url("built")}/readyz`)).json()).toEqual([
        "--enable-source-maps",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a built runtime whose dist/main.js is missing, naming pnpm build", async () => {
    const { entry: _, ...noEntry } = base;
    await expect(
      startStack({ ...noEntry, services: ["no-such-service"], runtime: "built" }),
    ).rejects.toThrow(/services\/no-such-service\/dist\/main\.js does not exist; run `pnpm build`/);
  });

  it("SIGKILLs a service that ignores SIGTERM after the stop timeout", async () => {
    const stack = await startStack({
      ...base,
      services: ["stubborn"],
      stopTimeoutMs: 500,
      env: { FIXTURE_MODE: "stubborn" },
    });
    stacks.push(stack);
    const pid = stack.pid("stubborn");
    const started = Date.now();
    await stack.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(alive(pid)).toBe(false);
    expect(stack.logs("stubborn").join("\n")).toContain("got SIGTERM");
  });
});
