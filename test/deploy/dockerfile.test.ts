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

  it.each(services)("runs $name from source with tsx as a non-root user", (service) => {
    const target = targetSettings(service.name);
    expect(target.baseImage).toBe("node:20-bookworm-slim");
    expect(target.env).toContain("NODE_ENV=production");
    expect(target.env).toContain(`PORT=${service.port}`);
    expect(target.expose).toEqual([String(service.port)]);
    // Numeric, so the kubelet can enforce runAsNonRoot; and not root.
    expect(target.user).toMatch(/^[1-9]\d*(:\d+)?$/);
    // Exec form (a JSON array): node runs as PID 1 and receives SIGTERM itself.
    const entrypoint = JSON.parse(target.entrypoint ?? "null") as string[];
    const cmd = JSON.parse(target.cmd ?? "null") as string[];
    expect([...entrypoint, ...cmd]).toEqual(["node", "--import", "tsx", "src/main.ts"]);
    expect(target.workdir).toBe("/app");
    expect(existsSync(join(root, "services", service.name, "src", "main.ts"))).toBe(true);
  });

  it.each(services)("builds $name with pnpm deploy into /app", (service) => {
    const target = dockerfile.stages.find((stage) => stage.name === service.name);
    const copies = instructions(target ? [target] : [], "COPY").map(copyArguments);
    const fromDeploy = copies.find((copy) => copy.flags.has("from"));
    expect(fromDeploy?.destination).toBe("/app");
    // Owned by root: the service user cannot change its own code.
    expect(fromDeploy?.flags.get("chown")).toBe("0:0");
    const deployStage = stageLineage(dockerfile, fromDeploy?.flags.get("from") ?? "");
    const runs = instructions(deployStage, "RUN").join("\n");
    expect(runs).toContain(`pnpm --filter @hookline/${service.name} --prod deploy --legacy`);
    expect(runs).toContain("--config.node-linker=hoisted");
    const contextCopies = instructions(deployStage, "COPY")
      .map(copyArguments)
      .filter((copy) => !copy.flags.has("from"))
      .flatMap((copy) => copy.sources);
    expect(contextCopies).toContain(`services/${service.name}`);
    for (const dir of service.runtimePackages) {
      expect(contextCopies).toContain(`packages/${dir}`);
    }
    // pnpm resolves devDependencies' workspace packages even when pruning them.
    for (const dir of service.devPackages) {
      expect(
        contextCopies.some((source) => source === `packages/${dir}/package.json`) ||
          contextCopies.includes(`packages/${dir}`),
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
      expect(settings.baseImage).toBe("node:20-bookworm-slim");
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
      const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
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
      ".data",
      ".git",
      "coverage",
    ]) {
      expect(dockerignoreExcludes(dockerignore, path), path).toBe(true);
    }
    for (const path of ["pnpm-lock.yaml", "packages/kit/src/index.ts", "services/dlq/src"]) {
      expect(dockerignoreExcludes(dockerignore, path), path).toBe(false);
    }
  });
});
