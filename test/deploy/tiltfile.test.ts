import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";
import { describe, expect, it } from "vitest";
import {
  contextCopies,
  copyArguments,
  imagePathOf,
  parseDockerfile,
  stageLineage,
  stagesNeeded,
} from "./support/dockerfile";
import { hooklineServices, workspaceManifests } from "./support/services";
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
const imageBuild = (name: string): TiltCall | undefined =>
  imageBuilds.find((build) => build.args[0] === `hookline-${name}`);
const resource = (name: string): TiltCall | undefined =>
  callsOf("k8s_resource").find((call) => (call.args[0] ?? call.kwargs.workload) === name);
const localResource = (name: string): TiltCall | undefined =>
  callsOf("local_resource").find((call) => call.args[0] === name);
const isDirectory = (path: string) => statSync(join(root, path)).isDirectory();

function liveUpdate(build: TiltCall | undefined): TiltValue[] {
  return (build?.kwargs.live_update ?? []) as TiltValue[];
}

/** A run step's triggers, always as a list. */
function triggers(step: TiltValue): string[] {
  const trigger = step.kwargs.trigger ?? [];
  return (Array.isArray(trigger) ? trigger : [trigger]) as string[];
}

/** Strings the Tiltfile hands to the container, not to the local filesystem. */
function containerSideStrings(): Set<string> {
  const strings = new Set<string>();
  for (const build of imageBuilds) {
    for (const step of liveUpdate(build)) {
      if (step.step === "sync") strings.add(String(step.args[1]));
      if (step.step === "run") strings.add(String(step.args[0]));
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
    // Literals as written, and the paths the builds use as evaluated (formatted with %s).
    const literals = tiltfileStringLiterals(source).filter((text) => !text.includes("%"));
    const evaluated = imageBuilds.flatMap((build) => [
      ...((build.kwargs.only ?? []) as string[]),
      ...liveUpdate(build).flatMap((step) =>
        step.step === "sync" ? [String(step.args[0])] : step.step === "run" ? triggers(step) : [],
      ),
    ]);
    const candidates = [...literals, ...evaluated]
      .filter(looksLikePath)
      .filter((text) => !containerSide.has(text));
    expect(candidates).toContain("deploy/docker/Dockerfile");
    expect(candidates).toContain("services/dlq/package.json");
    expect(candidates.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });

  it("builds one image per service with docker_build, from its development target", () => {
    const targets = dockerfile.stages.map((stage) => stage.name);
    // Plain docker_build: tsx watch in the image restarts the service, no extension needed.
    expect(imageBuilds.map((build) => build.fn)).toEqual(services.map(() => "docker_build"));
    expect(callsOf("load")).toEqual([]);
    expect(imageBuilds.map((build) => build.args[0]).sort()).toEqual(
      services.map(({ name }) => `hookline-${name}`).sort(),
    );
    for (const build of imageBuilds) {
      const name = String(build.args[0]).replace(/^hookline-/, "");
      expect(build.kwargs.target).toBe(`${name}-dev`);
      expect(targets).toContain(`${name}-dev`);
      expect(build.kwargs.context ?? build.args[1]).toBe(".");
      expect(build.kwargs.dockerfile).toBe("deploy/docker/Dockerfile");
      // The image's own command runs the service.
      expect(build.kwargs.entrypoint).toBeUndefined();
    }
  });

  it.each(services)(
    "sends the $name build what its target copies, and no other service",
    (service) => {
      const build = imageBuild(service.name);
      const only = (build?.kwargs.only ?? []) as string[];
      const needed = new Set<string>();
      for (const stage of stagesNeeded(dockerfile, String(build?.kwargs.target))) {
        for (const entry of stage.instructions.filter((i) => i.keyword === "COPY")) {
          const copy = copyArguments(entry.text);
          if (!copy.flags.has("from")) for (const path of copy.sources) needed.add(path);
        }
      }
      const covered = (path: string) =>
        only.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
      expect(needed.size).toBeGreaterThan(0);
      expect([...needed].filter((path) => !covered(path))).toEqual([]);
      // An edit to another service's source neither rebuilds nor live-updates this one.
      for (const other of services.filter(({ name }) => name !== service.name)) {
        expect(covered(`services/${other.name}/src/main.ts`), other.name).toBe(false);
      }
    },
  );

  it.each(services)("live-updates $name into the development image's layout", (service) => {
    const build = imageBuild(service.name);
    const target = String(build?.kwargs.target);
    const steps = liveUpdate(build);
    // Tilt requires fall_back_on steps first, then syncs, then runs.
    const order = steps.map((step) => ["fall_back_on", "sync", "run"].indexOf(step.step));
    expect(order).not.toContain(-1);
    expect(order).toEqual([...order].sort());
    const syncs = steps
      .filter((step) => step.step === "sync")
      .map((step) => [String(step.args[0]), String(step.args[1])] as const);
    // The service's source and the workspace packages, where the image holds them.
    expect(syncs).toContainEqual([
      `services/${service.name}/src`,
      `/app/services/${service.name}/src`,
    ]);
    expect(syncs).toContainEqual(["packages", "/app/packages"]);
    const copies = contextCopies(dockerfile, target);
    for (const [local, remote] of syncs) {
      expect(existsSync(join(root, local)), local).toBe(true);
      expect(imagePathOf(copies, local, isDirectory), local).toBe(remote);
    }
  });

  it.each(services)("runs pnpm install in $name when a manifest changes", (service) => {
    const build = imageBuild(service.name);
    const steps = liveUpdate(build);
    const runs = steps.filter((step) => step.step === "run");
    const install = runs.find((step) => step.args[0] === "pnpm install --frozen-lockfile");
    expect(install).toBeDefined();
    const installTriggers = triggers(install as TiltValue);
    for (const manifest of workspaceManifests()) expect(installTriggers).toContain(manifest);
    // A changed file no sync covers makes Tilt rebuild the image instead of running anything,
    // so each trigger has to be synced.
    const synced = steps.filter((step) => step.step === "sync").map((step) => String(step.args[0]));
    const isSynced = (path: string) =>
      synced.some((local) => path === local || path.startsWith(`${local}/`));
    expect(installTriggers.filter((path) => !isSynced(path))).toEqual([]);
    // tsx watch ignores node_modules: after the install, touching the entry file restarts the
    // service on its new dependencies. Both run in the image's WORKDIR.
    const lineage = stageLineage(dockerfile, String(build?.kwargs.target));
    const cmdText = lineage.flatMap((stage) =>
      stage.instructions.filter((i) => i.keyword === "CMD").map((i) => i.text),
    )[0];
    const entry = (JSON.parse(cmdText ?? "[]") as string[]).at(-1);
    const restart = runs.findIndex((step) => step.args[0] === `touch ${entry}`);
    expect(restart).toBeGreaterThan(runs.indexOf(install as TiltValue));
    expect(triggers(runs[restart] as TiltValue)).toEqual(installTriggers);
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
