#!/usr/bin/env node
// The programs outside npm that Hookline runs or tests with: nats-server (dev and tests), and
// promtool and prometheus from Debian's `prometheus` package (test/deploy checks the config and
// the alert rules with promtool; test/e2e runs a Prometheus server against the services).
// Each is taken from its *_BIN variable, PATH or a known path; when one is missing and we are
// root on a machine with apt, its Debian package is installed; otherwise we say how to get it.
// Plain JS: bootstrap.mjs runs it before any dependency is installed.
//
// `node scripts/system-tools.mjs [dev|test]` finds or installs just these and prints their
// paths as the variables bootstrap.mjs passes on (default: test, which needs all of them).
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function works(command, args) {
  const result = spawnSync(command, args, { stdio: "ignore" });
  return !result.error && result.status === 0;
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `$<variable>` if it names a file, else the first executable `name` on PATH or known path that
 * answers `--version`, as an absolute path.
 */
function find(variable, name, knownPaths) {
  const fromEnv = process.env[variable];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const onPath = (process.env.PATH ?? "")
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => resolve(dir, name));
  for (const candidate of [...onPath, ...knownPaths]) {
    if (executable(candidate) && works(candidate, ["--version"])) return candidate;
  }
  return undefined;
}

/** `name` in the directory of the file `$<variable>` names: a release tarball has both. */
function besides(variable, name) {
  const path = process.env[variable];
  return path ? [join(dirname(path), name)] : [];
}

const tools = {
  natsServer: {
    variable: "NATS_SERVER_BIN",
    find: () =>
      find("NATS_SERVER_BIN", "nats-server", ["/usr/sbin/nats-server", "/usr/bin/nats-server"]),
    aptPackage: "nats-server",
    howTo:
      "nats-server is required. Install it (Debian/Ubuntu: sudo apt-get install nats-server, or a " +
      "release from the NATS project), or set NATS_SERVER_BIN to its path, or NATS_URL to a " +
      "running server with JetStream.",
  },
  promtool: {
    variable: "PROMTOOL_BIN",
    find: () =>
      find("PROMTOOL_BIN", "promtool", [
        ...besides("PROMETHEUS_BIN", "promtool"),
        "/usr/bin/promtool",
        "/usr/local/bin/promtool",
      ]),
    aptPackage: "prometheus",
    howTo:
      "promtool is required by the tests (it checks deploy/prometheus). Install Prometheus " +
      "(Debian/Ubuntu: sudo apt-get install --no-install-recommends prometheus, or unpack a " +
      "release from https://prometheus.io/download/) and put it on PATH, or set PROMTOOL_BIN to " +
      "its path.",
  },
  prometheus: {
    variable: "PROMETHEUS_BIN",
    find: () =>
      find("PROMETHEUS_BIN", "prometheus", [
        ...besides("PROMTOOL_BIN", "prometheus"),
        "/usr/bin/prometheus",
        "/usr/local/bin/prometheus",
      ]),
    aptPackage: "prometheus",
    howTo:
      "The prometheus server is required by the tests (test/e2e scrapes the services with it). " +
      "Install Prometheus (Debian/Ubuntu: sudo apt-get install --no-install-recommends " +
      "prometheus, or unpack a release from https://prometheus.io/download/) and put it on " +
      "PATH, or set PROMETHEUS_BIN to its path.",
  },
};

/** What each mode needs: dev only nats-server, and not even that when NATS_URL names a server. */
function needed(mode) {
  if (mode === "test") return ["natsServer", "promtool", "prometheus"];
  // The benchmark starts its own nats-server whatever NATS_URL says.
  if (mode === "bench") return ["natsServer"];
  return process.env.NATS_URL ? [] : ["natsServer"];
}

/** apt-get update once, then install the packages; false when this machine can't. */
function aptInstall(packages) {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !works("apt-get", ["--version"])) return false;
  console.log(`installing Debian packages: ${packages.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args) => spawnSync("apt-get", args, { stdio: "inherit", env }).status === 0;
  return (
    apt(["update", "-qq"]) && apt(["install", "-y", "-qq", "--no-install-recommends", ...packages])
  );
}

/**
 * Finds, or installs, the tools `mode` ("dev" or "test") needs. Returns the environment
 * variables that name them (e.g. { NATS_SERVER_BIN: "/usr/sbin/nats-server" }); exits with a
 * message saying how to install a tool that is still missing.
 */
export function ensureSystemTools(mode) {
  const wanted = needed(mode);
  // Also report a nats-server that dev does not need (NATS_URL set) but has.
  const keys = [...new Set([...wanted, "natsServer"])];
  const found = Object.fromEntries(keys.map((key) => [key, tools[key].find()]));
  const missing = wanted.filter((key) => found[key] === undefined);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((key) => tools[key].aptPackage))];
    console.log(`not found: ${missing.map((key) => tools[key].variable).join(", ")}`);
    if (aptInstall(packages)) {
      for (const key of missing) found[key] = tools[key].find();
    }
  }
  const stillMissing = wanted.filter((key) => found[key] === undefined);
  if (stillMissing.length > 0) {
    for (const key of stillMissing) console.error(tools[key].howTo);
    process.exit(1);
  }
  const env = {};
  for (const key of keys) {
    if (found[key] === undefined) continue;
    env[tools[key].variable] = found[key];
    console.log(`using ${found[key]} (${tools[key].variable})`);
  }
  return env;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2] ?? "test";
  if (mode !== "dev" && mode !== "test") {
    console.error("usage: node scripts/system-tools.mjs [dev|test]");
    process.exit(2);
  }
  const env = ensureSystemTools(mode);
  for (const [name, value] of Object.entries(env)) console.log(`${name}=${value}`);
}
