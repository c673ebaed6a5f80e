#!/usr/bin/env node
// `npm start`: runs the four built services (`pnpm build` first) as child processes of this one,
// against the NATS_URL and DATABASE_URL of the caller's environment, each on its own port. Their
// logs stay JSON lines on stdout (this script's own lines too); SIGINT or SIGTERM drains them
// all, a second one kills them, and a service that dies on its own stops the rest. For one
// service per container, run `node --enable-source-maps services/<name>/dist/main.js` instead.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Each service's default port (its config's PORT default); `<NAME>_PORT` overrides one. */
const SERVICES = { ingest: 8080, delivery: 8081, classifier: 8082, dlq: 8083 };

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(2);
}

const missing = ["NATS_URL", "DATABASE_URL"].filter((name) => !process.env[name]);
if (missing.length > 0) {
  fail(
    `set ${missing.join(" and ")} (e.g. NATS_URL=nats://127.0.0.1:4222 DATABASE_URL=postgres://…)`,
  );
}
const entryOf = (name) => join(root, "services", name, "dist", "main.js");
const unbuilt = Object.keys(SERVICES).filter((name) => !existsSync(entryOf(name)));
if (unbuilt.length > 0) {
  fail(
    `no ${unbuilt.map((name) => `services/${name}/dist/main.js`).join(", ")}: run pnpm build first`,
  );
}

/** One JSON line, shaped like the services' pino records, so stdout stays parseable. */
function log(level, msg, fields = {}) {
  const record = { level: level === "error" ? 50 : 30, time: Date.now(), service: "start" };
  process.stdout.write(`${JSON.stringify({ ...record, ...fields, msg })}\n`);
}

/** Copies whole lines only, so the services' records never interleave mid-line. */
function forwardLines(stream) {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    const end = chunk.lastIndexOf("\n");
    if (end < 0) {
      pending += chunk;
      return;
    }
    const lines = pending + chunk.slice(0, end + 1);
    pending = chunk.slice(end + 1);
    if (!process.stdout.write(lines)) {
      stream.pause();
      process.stdout.once("drain", () => stream.resume());
    }
  });
  stream.on("end", () => {
    if (pending !== "") process.stdout.write(`${pending}\n`);
  });
}

let stopping = false;
let exitCode = 0;
const children = new Map();

function stopAll(signal) {
  for (const child of children.values()) child.kill(signal);
}

for (const [name, defaultPort] of Object.entries(SERVICES)) {
  const port = process.env[`${name.toUpperCase()}_PORT`] ?? String(defaultPort);
  const child = spawn(process.execPath, ["--enable-source-maps", entryOf(name)], {
    cwd: root,
    env: { ...process.env, PORT: port },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.set(name, child);
  forwardLines(child.stdout);
  let ended = false;
  const end = (code, signal, error) => {
    if (ended) return;
    ended = true;
    children.delete(name);
    if (!stopping) {
      const how = error
        ? `could not start: ${error.message}`
        : `exited (${signal ?? `code ${code}`})`;
      log("error", `${name} ${how}; stopping the others`, { exitCode: code, signal });
      stopping = true;
      exitCode = 1;
      stopAll("SIGTERM");
    } else if (code !== 0 && signal !== "SIGTERM") {
      // Dying of our SIGTERM is a stop too: a service that had not yet set up its handler.
      exitCode = 1;
    }
    // Once every service is gone nothing keeps the loop alive; stdout is flushed on the way out.
    if (children.size === 0) process.exitCode = exitCode;
  };
  child.on("exit", (code, signal) => end(code, signal));
  // Only a failed spawn has no pid; then there is no exit event either.
  child.on("error", (error) => {
    if (child.pid === undefined) end(null, null, error);
  });
}
log("info", "started", {
  services: Object.fromEntries([...children].map(([name, child]) => [name, child.pid])),
});

// First signal: each service drains (within its SHUTDOWN_TIMEOUT) and exits. A second: kill.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (stopping) {
      log("info", `${signal} again: killing the services`);
      stopAll("SIGKILL");
      return;
    }
    stopping = true;
    log("info", `${signal}: stopping the services`);
    stopAll("SIGTERM");
  });
}
