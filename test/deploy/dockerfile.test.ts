import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import {
  copyArguments,
  type DockerStage,
  dockerignoreExcludes,
  parseDockerfile,
  stageLineage,
} from "./support/dockerfile";
import { hooklineServices } from "./support/services";

// There is no Docker engine where these tests run, so the image is checked by reading: every
// path it takes from the context exists and survives .dockerignore, every stage it names exists,
// and each service's target runs that service as the design says.
const root = repoRoot();
const dockerfile = parseDockerfile(
  readFileSync(join(root, "deploy", "docker", "Dockerfile"), "utf8"),
);
const dockerignore = readFileSync(join(root, ".dockerignore"), "utf8");
const services = hooklineServices();

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
  it("has a target for every service", () => {
    const targets = dockerfile.stages.map((stage) => stage.name);
    for (const { name } of services) expect(targets).toContain(name);
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
    const deployStage = stageLineage(dockerfile, fromDeploy?.flags.get("from") ?? "");
    const runs = instructions(deployStage, "RUN").join("\n");
    expect(runs).toContain(`pnpm --filter @hookline/${service.name} --prod deploy --legacy`);
    // Plain directories under node_modules/@hookline: the Tiltfile syncs into them.
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
