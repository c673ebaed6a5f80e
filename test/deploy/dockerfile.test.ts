import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import {
  buildOrder,
  contextCopies,
  copyArguments,
  type DockerStage,
  dockerignoreExcludes,
  imagePathOf,
  parseDockerfile,
  stageLineage,
} from "./support/dockerfile";
import { hooklineServices, workspaceManifests } from "./support/services";

// There is no Docker engine where these tests run, so the image is checked by reading: every
// path it takes from the context exists and survives .dockerignore, every stage it names exists,
// each service's production target runs that service as the design says, and each development
// target (what Tilt builds) holds the workspace where the Tiltfile's live updates expect it.
const root = repoRoot();
const dockerfile = parseDockerfile(
  readFileSync(join(root, "deploy", "docker", "Dockerfile"), "utf8"),
);
const dockerignore = readFileSync(join(root, ".dockerignore"), "utf8");
const services = hooklineServices();
const isDirectory = (path: string) => statSync(join(root, path)).isDirectory();
/**
 * Every image runs on the current Node LTS: Node 26, Active LTS since October 2026, on Debian 13
 * (the Dockerfile says why not bookworm). The code itself still supports Node 20.
 */
const NODE_IMAGE = "node:26-trixie-slim";

interface PackageJson {
  files?: string[];
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const manifestOf = (dir: string) =>
  JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as PackageJson;

function instructions(stages: DockerStage[], keyword: string): string[] {
  return stages.flatMap((stage) =>
    stage.instructions.filter((entry) => entry.keyword === keyword).map((entry) => entry.text),
  );
}

/** The target's image settings: the nearest stage that sets them wins, as in Docker. */
function targetSettings(target: string) {
  const lineage = stageLineage(dockerfile, target);
  const nearest = (keyword: string) => instructions(lineage.slice().reverse(), keyword).at(-1);
  const baseStage = lineage.at(-1);
  const baseImage = (baseStage?.from ?? "").replace(
    /^\$\{(\w+)\}$/,
    (_, arg: string) => dockerfile.globalArgs.get(arg) ?? "",
  );
  const env = instructions(lineage, "ENV").join(" ");
  return {
    lineage,
    baseImage,
    user: nearest("USER"),
    workdir: nearest("WORKDIR"),
    entrypoint: nearest("ENTRYPOINT"),
    cmd: nearest("CMD"),
    expose: instructions(lineage, "EXPOSE"),
    env,
  };
}

describe("deploy/docker/Dockerfile", () => {
  it("has a production and a development target for every service", () => {
    const targets = dockerfile.stages.map((stage) => stage.name);
    for (const { name } of services) {
      expect(targets).toContain(name);
      expect(targets).toContain(`${name}-dev`);
    }
  });

  it.each(services)("runs $name from its bundle with plain node as a non-root user", (service) => {
    const target = targetSettings(service.name);
    expect(target.baseImage).toBe(NODE_IMAGE);
    expect(target.env).toContain("NODE_ENV=production");
    expect(target.env).toContain(`PORT=${service.port}`);
    expect(target.expose).toEqual([String(service.port)]);
    // Numeric, so the kubelet can enforce runAsNonRoot; and not root.
    expect(target.user).toMatch(/^[1-9]\d*(:\d+)?$/);
    // Exec form (a JSON array): node runs as PID 1 and receives SIGTERM itself.
    const entrypoint = JSON.parse(target.entrypoint ?? "null") as string[];
    const cmd = JSON.parse(target.cmd ?? "null") as string[];
    expect([...entrypoint, ...cmd]).toEqual(["node", "--enable-source-maps", "dist/main.js"]);
    expect(target.workdir).toBe("/app");
    // Nothing of the runtime stages names tsx or esbuild.
    const runtimeText = target.lineage
      .flatMap((stage) => stage.instructions.map((entry) => entry.text))
      .join("\n");
    expect(runtimeText).not.toMatch(/tsx|esbuild/);
    // `pnpm deploy --prod` copies the service's production dependencies and its "files": dist,
    // what `pnpm build` bundles from src/main.ts. Neither tsx nor esbuild is among them.
    const manifest = manifestOf(`services/${service.name}`);
    expect(manifest.files).toEqual(["dist"]);
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain("tsx");
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain("esbuild");
    expect(manifest.scripts?.start).toContain("node --enable-source-maps dist/main.js");
    expect(existsSync(join(root, "services", service.name, "src", "main.ts"))).toBe(true);
  });

  it.each(services)("builds $name with pnpm build and pnpm deploy into /app", (service) => {
    const target = dockerfile.stages.find((stage) => stage.name === service.name);
    const copies = instructions(target ? [target] : [], "COPY").map(copyArguments);
    const fromBuild = copies.find((copy) => copy.flags.has("from"));
    expect(fromBuild?.sources).toEqual(["/out"]);
    expect(fromBuild?.destination).toBe("/app");
    // Owned by root: the service user cannot change its own code.
    expect(fromBuild?.flags.get("chown")).toBe("0:0");
    const buildStage = fromBuild?.flags.get("from") ?? "";
    const order = buildOrder(dockerfile, buildStage);
    const runs = order.filter((entry) => entry.keyword === "RUN").map((entry) => entry.text);
    const step = (text: string) => runs.findIndex((run) => run.includes(text));
    // Every dependency installed (esbuild is a devDependency), then the bundle, then the deploy
    // from the lockfile, without the workspace packages the bundle already holds.
    const install = step("pnpm install --frozen-lockfile");
    const bundle = step(`pnpm build ${service.name}`);
    const deploy = step(`pnpm --filter @hookline/${service.name} --prod deploy`);
    expect(install).toBeGreaterThan(-1);
    expect(bundle).toBeGreaterThan(install);
    expect(deploy).toBeGreaterThanOrEqual(bundle);
    expect(runs[deploy]).toContain("--config.inject-workspace-packages=true");
    expect(runs[deploy]).toContain("--config.node-linker=hoisted");
    expect(runs[deploy]).toMatch(/--store-dir \/pnpm-store \/out\b/);
    expect(runs[deploy]).toContain("rm -rf /out/node_modules/@hookline");
    expect(runs.join("\n")).not.toMatch(/pnpm fetch --prod/);

    const sources = contextCopies(dockerfile, buildStage);
    const sourcePaths = sources.flatMap((copy) => copy.sources);
    // Every manifest --frozen-lockfile checks, before the install.
    const installAt = order.findIndex((entry) => entry.text.includes("pnpm install"));
    const beforeInstall = sources.filter((copy) => copy.index < installAt);
    for (const path of [...workspaceManifests(), "pnpm-workspace.yaml", ".npmrc"]) {
      expect(imagePathOf(beforeInstall, path, isDirectory), path).toBe(`/repo/${path}`);
    }
    // The build script, the service and the workspace packages it bundles; no other service's
    // source, so an edit to one service rebuilds that image alone.
    expect(sourcePaths).toContain("scripts/build.mjs");
    expect(sourcePaths).toContain(`services/${service.name}`);
    for (const dir of service.runtimePackages) expect(sourcePaths).toContain(`packages/${dir}`);
    for (const other of services.filter((s) => s.name !== service.name)) {
      expect(sourcePaths).not.toContain(`services/${other.name}`);
    }
    // pnpm resolves devDependencies' workspace packages even when pruning them.
    for (const dir of service.devPackages) {
      expect(
        sourcePaths.includes(`packages/${dir}/package.json`) ||
          sourcePaths.includes(`packages/${dir}`),
      ).toBe(true);
    }
  });

  describe.each(services)("the development target of $name", (service) => {
    const target = `${service.name}-dev`;
    const settings = targetSettings(target);
    const order = buildOrder(dockerfile, target);
    const copies = contextCopies(dockerfile, target);
    const [uid, gid] = (settings.user ?? "").split(":");
    const pnpmInstall = order.findIndex(
      (entry) => entry.keyword === "RUN" && entry.text === "pnpm install --frozen-lockfile",
    );

    it("runs the service from the workspace with tsx watch, as non-root, in exec form", () => {
      expect(settings.baseImage).toBe(NODE_IMAGE);
      // Numeric, so the kubelet can enforce runAsNonRoot; and not root.
      expect(settings.user).toMatch(/^[1-9]\d*:\d+$/);
      expect(settings.workdir).toBe("/app");
      expect(settings.entrypoint).toBeUndefined();
      const cmd = JSON.parse(settings.cmd ?? "null") as string[];
      expect(cmd).toEqual([
        "node_modules/.bin/tsx",
        "watch",
        `services/${service.name}/src/main.ts`,
      ]);
      // The entry file is where the image holds the service's source, under WORKDIR.
      const entry = cmd.at(-1) ?? "";
      expect(imagePathOf(copies, entry, isDirectory)).toBe(`/app/${entry}`);
      expect(existsSync(join(root, entry))).toBe(true);
      // node_modules/.bin/tsx: the workspace root depends on tsx.
      const rootManifest = manifestOf(".");
      expect({ ...rootManifest.dependencies, ...rootManifest.devDependencies }).toHaveProperty(
        "tsx",
      );
      expect(settings.env).toContain(`PORT=${service.port}`);
      expect(settings.expose).toEqual([String(service.port)]);
      // pnpm skips devDependencies, the root's tsx among them, under NODE_ENV=production.
      expect(settings.env).not.toContain("NODE_ENV=production");
    });

    it("installs the whole workspace with pnpm 10 and --frozen-lockfile", () => {
      const lineage = settings.lineage;
      const pnpmVersion = instructions(lineage, "ARG")
        .map((text) => /^PNPM_VERSION=(\S+)$/.exec(text)?.[1])
        .find((version) => version !== undefined);
      expect(pnpmVersion).toMatch(/^10\.\d+\.\d+$/);
      expect(instructions(lineage, "RUN").join("\n")).toMatch(
        /npm install --global .*"pnpm@\$\{PNPM_VERSION\}"/,
      );
      expect(pnpmInstall).toBeGreaterThan(-1);
      // Every manifest the lockfile is checked against, in place, before the install.
      const before = copies.filter((copy) => copy.index < pnpmInstall);
      for (const path of [...workspaceManifests(), "pnpm-workspace.yaml", ".npmrc"]) {
        expect(imagePathOf(before, path, isDirectory), path).toBe(`/app/${path}`);
      }
      // Then the sources: the workspace packages and the service.
      const after = copies.filter((copy) => copy.index > pnpmInstall);
      expect(imagePathOf(after, "packages", isDirectory)).toBe("/app/packages");
      expect(imagePathOf(after, `services/${service.name}/src`, isDirectory)).toBe(
        `/app/services/${service.name}/src`,
      );
    });

    it("gives /app, the dependencies and pnpm's store to the service user", () => {
      // Tilt's live updates and `pnpm install` in the container write as the container user.
      const creates = instructions(settings.lineage, "RUN").map((text) =>
        /^install --directory --owner=(\d+) --group=(\d+) \/app$/.exec(text),
      );
      expect(creates.filter((match) => match !== null).map((match) => match?.slice(1))).toEqual([
        [uid, gid],
      ]);
      for (const copy of copies) expect(copy.chown, copy.sources.join(" ")).toBe(settings.user);
      // The install runs as the user, so node_modules and the store under HOME are theirs.
      const userSet = order.findIndex((entry) => entry.keyword === "USER");
      expect(userSet).toBeGreaterThan(-1);
      expect(userSet).toBeLessThan(pnpmInstall);
      expect(order.filter((entry) => entry.keyword === "USER")).toHaveLength(1);
      // HOME fixed in the image, so `pnpm install` in the container finds the same store.
      expect(settings.env).toMatch(/\bHOME=\/home\/node\b/);
    });
  });

  it("copies only paths that exist and that .dockerignore lets through", () => {
    const problems: string[] = [];
    for (const stage of dockerfile.stages) {
      for (const text of instructions([stage], "COPY")) {
        const copy = copyArguments(text);
        if (copy.flags.has("from")) continue;
        for (const source of copy.sources) {
          if (!existsSync(join(root, source))) problems.push(`${source} does not exist`);
          if (dockerignoreExcludes(dockerignore, source)) {
            problems.push(`${source} is excluded by .dockerignore`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("copies from stages defined before the copy", () => {
    const problems: string[] = [];
    dockerfile.stages.forEach((stage, index) => {
      const earlier = dockerfile.stages.slice(0, index).map((entry) => entry.name);
      for (const text of instructions([stage], "COPY")) {
        const from = copyArguments(text).flags.get("from");
        if (from !== undefined && !earlier.includes(from)) {
          problems.push(`${stage.name}: --from=${from}`);
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it("keeps dependencies, local data and history out of the build context", () => {
    for (const path of [
      "node_modules",
      "packages/kit/node_modules",
      "services/ingest/node_modules",
      "services/ingest/dist",
      "scripts/bench.ts",
      ".data",
      ".git",
      "coverage",
    ]) {
      expect(dockerignoreExcludes(dockerignore, path), path).toBe(true);
    }
    for (const path of [
      "pnpm-lock.yaml",
      "packages/kit/src/index.ts",
      "services/dlq/src",
      "scripts/build.mjs",
    ]) {
      expect(dockerignoreExcludes(dockerignore, path), path).toBe(false);
    }
  });
});
