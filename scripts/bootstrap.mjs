#!/usr/bin/env node
// The one entry point behind `npm run dev` and `npm test`: it installs what a fresh machine lacks
// (pnpm packages, nats-server), then runs the dev stack or the checks. Plain JS: it must run
// before any dependency is installed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const mode = process.argv[2];
if (mode !== "dev" && mode !== "test") {
  console.error("usage: node scripts/bootstrap.mjs dev|test");
  process.exit(2);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function works(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: "ignore" });
  return !result.error && result.status === 0;
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

function findNatsServer() {
  if (process.env.NATS_SERVER_BIN && existsSync(process.env.NATS_SERVER_BIN)) {
    return process.env.NATS_SERVER_BIN;
  }
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"]) {
    if (works(candidate, ["--version"])) return candidate;
  }
  return undefined;
}

step("checking nats-server");
let natsServer = findNatsServer();
const needsNats = mode === "test" || !process.env.NATS_URL;
if (!natsServer && needsNats) {
  const isRoot = process.getuid?.() === 0;
  if (isRoot && works("apt-get", ["--version"])) {
    console.log("nats-server not found; installing Debian's package");
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "nats-server"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    natsServer = findNatsServer();
  }
  if (!natsServer) {
    console.error(
      "nats-server is required. Install it (Debian/Ubuntu: sudo apt-get install nats-server, or a " +
        "release from the NATS project), or set NATS_SERVER_BIN to its path, or NATS_URL to a " +
        "running server with JetStream.",
    );
    process.exit(1);
  }
}
if (natsServer) console.log(`using ${natsServer}`);
const env = { ...process.env, ...(natsServer ? { NATS_SERVER_BIN: natsServer } : {}) };

if (mode === "dev") {
  step("starting Hookline");
  const tsx = join(root, "node_modules", ".bin", "tsx");
  process.exit(run(tsx, [join(root, "scripts", "dev.ts")], { env }));
}

for (const [title, args] of [
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
