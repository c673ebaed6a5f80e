#!/usr/bin/env node
// `pnpm build` (or `pnpm build <service>…`): bundles each service's entry files (src/main.ts, and
// src/migrate.ts, src/reencrypt.ts and src/provision.ts where there are) with esbuild into
// services/<name>/dist/*.js, which `node dist/main.js` runs without tsx.
// The workspace packages (@hookline/*) export TypeScript and are bundled in; every other
// dependency stays external and is loaded from node_modules at run time, so each one a bundle
// imports must be a dependency of the service itself (checked below). Type checking is
// `tsc -p .`'s job, not this one's. Plain JS, so it runs with nothing but esbuild installed.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const WORKSPACE_SCOPE = "@hookline/";
/** Files bundled when a service has them; main.ts is required. */
const ENTRIES = ["main", "migrate", "reencrypt", "provision"];

const readManifest = (dir) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));

/** Workspace packages by name: "@hookline/kit" -> its manifest. */
const workspacePackages = new Map(
  readdirSync(join(root, "packages"))
    .map((dir) => join(root, "packages", dir))
    .filter((dir) => existsSync(join(dir, "package.json")))
    .map((dir) => [readManifest(dir).name, readManifest(dir)]),
);

/** The service's dependencies and those of the workspace packages it uses, transitively. */
function dependencyClosure(manifest) {
  const external = new Map();
  const seen = new Set();
  const visit = (current) => {
    for (const [name, version] of Object.entries(current.dependencies ?? {})) {
      if (name.startsWith(WORKSPACE_SCOPE)) {
        const pkg = workspacePackages.get(name);
        if (pkg === undefined) throw new Error(`${current.name}: no workspace package ${name}`);
        if (!seen.has(name)) {
          seen.add(name);
          visit(pkg);
        }
      } else {
        const versions = external.get(name) ?? new Set();
        versions.add(`${current.name}@${version}`);
        external.set(name, versions);
      }
    }
  };
  visit(manifest);
  return external;
}

/** The bare package name of an import path: "pino" of "pino/file", "@a/b" of "@a/b/c". */
const packageOf = (path) =>
  path
    .split("/")
    .slice(0, path.startsWith("@") ? 2 : 1)
    .join("/");

async function buildService(name) {
  const dir = join(root, "services", name);
  const manifest = readManifest(dir);
  const closure = dependencyClosure(manifest);
  const problems = [];
  for (const [dep, versions] of closure) {
    const specs = new Set([...versions].map((entry) => entry.slice(entry.lastIndexOf("@") + 1)));
    if (specs.size > 1)
      problems.push(`${dep} is asked for in different versions: ${[...versions]}`);
  }
  // Node resolves a bundle's imports from services/<name>/, where pnpm links only the service's
  // own dependencies (and `pnpm deploy` puts only those, with theirs, in the image). So the
  // service lists every dependency of the workspace packages it bundles, even one loaded only by
  // name at run time (pino-pretty, a pino transport).
  const own = new Set(Object.keys(manifest.dependencies ?? {}));
  const undeclared = [...closure.keys()].filter((dep) => !own.has(dep)).sort();
  if (undeclared.length > 0) {
    problems.push(
      `services/${name}/package.json lacks ${undeclared.join(", ")} in its dependencies: the ` +
        "workspace packages it bundles need them (use the version they ask for)",
    );
  }
  const entryPoints = ENTRIES.filter((entry) => existsSync(join(dir, "src", `${entry}.ts`)));
  if (!entryPoints.includes("main")) problems.push(`services/${name}/src/main.ts is missing`);
  if (problems.length > 0) throw new Error(problems.join("\n"));

  const outdir = join(dir, "dist");
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entryPoints.map((e) => [e, join(dir, "src", `${e}.ts`)])),
    outdir,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    // Each dependency and its subpaths ("pino", "pino/*"); node: builtins are external anyway.
    external: [...closure.keys()].flatMap((dep) => [dep, `${dep}/*`]),
    metafile: true,
    write: false,
    logLevel: "silent",
    legalComments: "none",
  });
  for (const warning of result.warnings) {
    console.warn(`${name}: warning: ${warning.text}`);
  }

  const imported = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const entry of output.imports) {
      if (entry.external && !entry.path.startsWith("node:")) imported.add(packageOf(entry.path));
    }
  }
  // Nothing from node_modules may end up inside a bundle: only workspace sources are bundled.
  const bundledDeps = Object.keys(result.metafile.inputs).filter((input) =>
    input.includes("node_modules/"),
  );
  if (bundledDeps.length > 0) {
    throw new Error(`bundled a dependency instead of leaving it external: ${bundledDeps[0]}`);
  }

  // Services may be running from dist (npm start, tests) while this runs: replace each file by a
  // rename, never leave one half written or missing, and then drop files no longer built.
  mkdirSync(outdir, { recursive: true });
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  const built = new Set(result.outputFiles.map((file) => basename(file.path)));
  for (const stale of readdirSync(outdir).filter((f) => !built.has(f) && !f.endsWith(".tmp"))) {
    rmSync(join(outdir, stale), { recursive: true, force: true });
  }

  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith(".js"))
    .map(([file, output]) => `${file} ${kib(output.bytes)}`);
  return `${name.padEnd(10)} ${outputs.join(", ")} (${imported.size} external packages)`;
}

const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;

const all = readdirSync(join(root, "services"))
  .filter((name) => existsSync(join(root, "services", name, "package.json")))
  .sort();
// `node scripts/build.mjs [service…]`: all of them by default (the image builds one at a time).
const services = process.argv.length > 2 ? process.argv.slice(2) : all;
const unknown = services.filter((name) => !all.includes(name));
if (unknown.length > 0) {
  console.error(`no service ${unknown.join(", ")} under services/ (there are ${all.join(", ")})`);
  process.exit(2);
}
const started = performance.now();
const results = await Promise.allSettled(services.map(buildService));
let failed = false;
results.forEach((result, index) => {
  if (result.status === "fulfilled") {
    console.log(`built ${result.value}`);
    return;
  }
  failed = true;
  const error = result.reason;
  const messages = error?.errors?.length
    ? error.errors.map((e) => {
        const where = e.location ? `${e.location.file}:${e.location.line}: ` : "";
        return `${where}${e.text}`;
      })
    : [error instanceof Error ? error.message : String(error)];
  console.error(`FAILED ${services[index]}: ${messages.join("\n  ")}`);
});
if (failed) process.exit(1);
const count = `${services.length} service${services.length === 1 ? "" : "s"}`;
console.log(`${count} in ${Math.round(performance.now() - started)} ms`);
