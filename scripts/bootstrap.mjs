#!/usr/bin/env node
// The one entry point behind `npm run dev`, `npm test` and `npm run bench`: it installs what a fresh machine lacks
// (pnpm packages; nats-server, and for the tests promtool and prometheus: system-tools.mjs), then
// runs the dev stack, the checks (build, lint, typecheck, tests) or the benchmark. Plain JS: it must run before
// any dependency is installed.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureSystemTools } from "./system-tools.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const mode = process.argv[2];
if (mode !== "dev" && mode !== "test" && mode !== "bench") {
  console.error("usage: node scripts/bootstrap.mjs dev|test|bench [bench options]");
  process.exit(2);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function step(title) {
  console.log(`\n▶ ${title}`);
}

// pnpm: use one on PATH if it is 10.x, else run pnpm 10 through npx (corepack is unreliable here).
const localPnpm = spawnSync("pnpm", ["--version"], { encoding: "utf8" });
const pnpm =
  !localPnpm.error && localPnpm.stdout?.startsWith("10.")
    ? { command: "pnpm", prefix: [] }
    : { command: "npx", prefix: ["-y", "pnpm@10"] };
const pnpmRun = (args) => run(pnpm.command, [...pnpm.prefix, ...args]);

step("installing dependencies (pnpm)");
const frozen = process.env.CI ? ["--frozen-lockfile"] : [];
if (pnpmRun(["install", ...frozen]) !== 0) {
  console.error("pnpm install failed");
  process.exit(1);
}

step(mode === "test" ? "checking nats-server, promtool and prometheus" : "checking nats-server");
const env = { ...process.env, ...ensureSystemTools(mode) };

const tsx = join(root, "node_modules", ".bin", "tsx");
if (mode === "dev") {
  step("starting Hookline");
  process.exit(run(tsx, [join(root, "scripts", "dev.ts")], { env }));
}
if (mode === "bench") {
  step("benchmark (it builds the services first)");
  process.exit(run(tsx, [join(root, "scripts", "bench.ts"), ...process.argv.slice(3)], { env }));
}

// The build first: the tests run the built services too (test/e2e/built-services.test.ts).
for (const [title, args] of [
  ["build (pnpm build)", ["build"]],
  ["lint (biome)", ["exec", "biome", "check", "."]],
  ["typecheck (tsc)", ["exec", "tsc", "-p", "."]],
  ["tests (vitest)", ["exec", "vitest", "run"]],
]) {
  step(title);
  const status = run(pnpm.command, [...pnpm.prefix, ...args], { env });
  if (status !== 0) {
    console.error(`${title} failed`);
    process.exit(status);
  }
}
