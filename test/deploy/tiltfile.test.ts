import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import { copyArguments, parseDockerfile } from "./support/dockerfile";
import { hooklineServices } from "./support/services";
import {
  parseTiltfileAsPython,
  recordTiltfileCalls,
  type TiltCall,
  type TiltValue,
  tiltfileStringLiterals,
} from "./support/tiltfile";

const root = repoRoot();
const source = readFileSync(join(root, "Tiltfile"), "utf8");
const services = hooklineServices();
const calls = recordTiltfileCalls(source);
const dockerfile = parseDockerfile(
  readFileSync(join(root, "deploy", "docker", "Dockerfile"), "utf8"),
);

const callsOf = (fn: string) => calls.filter((call) => call.fn === fn);
const imageBuilds = calls.filter((call) => call.fn.startsWith("docker_build"));
const resource = (name: string): TiltCall | undefined =>
  callsOf("k8s_resource").find((call) => (call.args[0] ?? call.kwargs.workload) === name);
const localResource = (name: string): TiltCall | undefined =>
  callsOf("local_resource").find((call) => call.args[0] === name);

function liveUpdate(build: TiltCall): TiltValue[] {
  return (build.kwargs.live_update ?? []) as TiltValue[];
}

/** Strings the Tiltfile hands to the container, not to the local filesystem. */
function containerSideStrings(): Set<string> {
  const strings = new Set<string>();
  for (const build of imageBuilds) {
    for (const part of (build.kwargs.entrypoint ?? []) as string[]) strings.add(part);
    strings.add(String(build.kwargs.restart_file ?? ""));
    for (const step of liveUpdate(build)) {
      if (step.step === "sync") strings.add(String(step.args[1]));
    }
  }
  return strings;
}

describe("Tiltfile", () => {
  it("is valid Python syntax, as Starlark needs", () => {
    expect(() => parseTiltfileAsPython(source)).not.toThrow();
  });

  it("names only repository paths that exist", () => {
    const containerSide = containerSideStrings();
    const looksLikePath = (text: string) =>
      !/\s|:\/\//.test(text) &&
      !text.startsWith("/") &&
      (text.includes("/") || /^\.[\w-]+$|^[\w-]+\.\w+$/.test(text));
    const candidates = tiltfileStringLiterals(source)
      .filter(looksLikePath)
      .filter((text) => !containerSide.has(text))
      .flatMap((text) =>
        text.includes("%s") ? services.map(({ name }) => text.replace("%s", name)) : [text],
      );
    expect(candidates).toContain("deploy/docker/Dockerfile");
    expect(candidates.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it("builds one image per service from its Dockerfile target", () => {
    const targets = dockerfile.stages.map((stage) => stage.name);
    expect(imageBuilds.map((build) => build.args[0]).sort()).toEqual(
      services.map(({ name }) => `hookline-${name}`).sort(),
    );
    for (const build of imageBuilds) {
      const name = String(build.args[0]).replace(/^hookline-/, "");
      expect(build.kwargs.target).toBe(name);
      expect(targets).toContain(name);
      expect(build.kwargs.context ?? build.args[1]).toBe(".");
      expect(build.kwargs.dockerfile).toBe("deploy/docker/Dockerfile");
    }
  });

  it.each(services)("sends the $name build everything its Dockerfile stages copy", (service) => {
    const build = imageBuilds.find((entry) => entry.args[0] === `hookline-${service.name}`);
    const only = (build?.kwargs.only ?? []) as string[];
    const deployStage = dockerfile.stages.find((stage) => stage.name === `deploy-${service.name}`);
    const needed = new Set<string>();
    for (const stage of dockerfile.stages) {
      // Shared stages, and this service's own; other services' stages are not built.
      const own = stage === deployStage || stage.name === service.name;
      const shared =
        !/^deploy-/.test(stage.name ?? "") && !services.some((s) => s.name === stage.name);
      if (!own && !shared) continue;
      for (const entry of stage.instructions.filter((i) => i.keyword === "COPY")) {
        const copy = copyArguments(entry.text);
        if (!copy.flags.has("from")) for (const path of copy.sources) needed.add(path);
      }
    }
    const covered = (path: string) =>
      only.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
    expect([...needed].filter((path) => !covered(path))).toEqual([]);
  });

  it.each(services)("live-updates $name into the image's layout", (service) => {
    const build = imageBuilds.find((entry) => entry.args[0] === `hookline-${service.name}`);
    expect(build).toBeDefined();
    const steps = liveUpdate(build as TiltCall);
    // Tilt requires fall_back_on steps first, then syncs, then runs.
    const order = steps.map((step) => ["fall_back_on", "sync", "run"].indexOf(step.step));
    expect(order).toEqual([...order].sort());
    const syncs = steps
      .filter((step) => step.step === "sync")
      .map((step) => [step.args[0], step.args[1]]);
    // The image holds the service at /app and workspace packages, as plain directories, under
    // /app/node_modules/@hookline (see the Dockerfile's pnpm deploy stages).
    expect(syncs).toContainEqual([`services/${service.name}/src`, "/app/src"]);
    for (const dir of service.runtimePackages) {
      expect(syncs).toContainEqual([
        `packages/${dir}/src`,
        `/app/node_modules/@hookline/${dir}/src`,
      ]);
    }
    const fallBack = steps
      .filter((step) => step.step === "fall_back_on")
      .flatMap((step) => {
        const paths = step.args[0];
        return Array.isArray(paths) ? paths : [paths];
      });
    for (const manifest of ["pnpm-lock.yaml", `services/${service.name}/package.json`]) {
      expect(fallBack).toContain(manifest);
    }
    expect(build?.kwargs.entrypoint).toEqual(["node", "--import", "tsx", "src/main.ts"]);
  });

  it("deploys the dev overlay with kustomize", () => {
    const kustomize = callsOf("kustomize");
    expect(kustomize.map((call) => call.args[0])).toEqual(["deploy/k8s/overlays/dev"]);
    expect(existsSync(join(root, "deploy/k8s/overlays/dev/kustomization.yaml"))).toBe(true);
    expect(callsOf("k8s_yaml")).toHaveLength(1);
  });

  it("forwards the ports the docs promise and orders start-up", () => {
    const forwards = (name: string) => (resource(name)?.kwargs.port_forwards ?? []) as string[];
    expect(forwards("ingest")).toContain("8080:8080");
    expect(forwards("dlq")).toContain("8083:8083");
    expect(forwards("grafana")).toContain("3000:3000");
    expect(forwards("prometheus")).toContain("9090:9090");
    expect(forwards("nats")).toContain("8222:8222");
    for (const { name } of services) {
      const deps = (resource(name)?.kwargs.resource_deps ?? []) as string[];
      expect(deps, name).toContain("nats");
      if (name === "dlq") expect(deps).toContain("postgres");
      expect(resource(name)?.kwargs.labels, name).toBeDefined();
    }
  });

  it("offers the unit tests and demo events as manual resources", () => {
    const tests = localResource("unit-tests");
    expect(tests?.args[1] ?? tests?.kwargs.cmd).toBe("npm test");
    expect(tests?.kwargs).toMatchObject({
      trigger_mode: "TRIGGER_MODE_MANUAL",
      auto_init: false,
    });

    const demo = localResource("demo-events");
    expect(demo?.kwargs).toMatchObject({ trigger_mode: "TRIGGER_MODE_MANUAL", auto_init: false });
    const script = String(demo?.args[1] ?? demo?.kwargs.cmd);
    const scriptPath = join(root, script);
    expect(() => accessSync(scriptPath, constants.X_OK)).not.toThrow();
    const syntax = spawnSync("bash", ["-n", scriptPath], { encoding: "utf8" });
    expect(syntax.status, syntax.stderr).toBe(0);
    const text = readFileSync(scriptPath, "utf8");
    expect(text).toContain("curl");
    expect(`${text} ${JSON.stringify(demo?.kwargs.env ?? {})}`).toContain("localhost:8080");
  });
});
