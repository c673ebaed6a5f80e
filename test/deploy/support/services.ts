import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { parseEnv } from "@hookline/kit";
import { repoRoot } from "@hookline/testkit";
import { parse } from "yaml";
import { z } from "zod";
import { classifierEnvShape } from "../../../services/classifier/src/config";
import { deliveryEnvShape } from "../../../services/delivery/src/config";
import { dlqEnvShape } from "../../../services/dlq/src/config";
import { ingestEnvShape } from "../../../services/ingest/src/config";

export type EnvShape = Parameters<typeof parseEnv>[0];

/** Each service's env shape, as its main.ts parses it; every service under services/ needs one. */
export const serviceEnvShapes: Record<string, EnvShape> = {
  classifier: classifierEnvShape,
  delivery: deliveryEnvShape,
  dlq: dlqEnvShape,
  ingest: ingestEnvShape,
};

export interface ServiceInfo {
  /** The directory under services/, which is also the Dockerfile target and the k8s name. */
  name: string;
  /** The env shape its main.ts parses (src/config.ts). */
  envShape: EnvShape;
  /** The default PORT in the service's env shape. */
  port: number;
  /** Workspace packages (packages/<dir>) it needs at run time, and those it needs for tests. */
  runtimePackages: string[];
  devPackages: string[];
}

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** packages/<dir> by package name, e.g. "@hookline/kit" -> "kit". */
function workspacePackageDirs(): Map<string, string> {
  const root = repoRoot();
  return new Map(
    readdirSync(join(root, "packages"))
      .filter((dir) => existsSync(join(root, "packages", dir, "package.json")))
      .map((dir) => [readJson<PackageJson>(join(root, "packages", dir, "package.json")).name, dir]),
  );
}

/** The port a service listens on unless PORT says otherwise: its env shape's default. */
function defaultPort(name: string, shape: EnvShape): number {
  const port = shape.PORT === undefined ? undefined : z.safeParse(shape.PORT, undefined);
  if (port?.success !== true || typeof port.data !== "number") {
    throw new Error(`${name}: its env shape has no PORT with a default`);
  }
  return port.data;
}

/** Every service under services/, as the deployment artifacts must know it. */
export function hooklineServices(): ServiceInfo[] {
  const root = repoRoot();
  const packages = workspacePackageDirs();
  const workspaceDirs = (deps: Record<string, string> | undefined) =>
    Object.keys(deps ?? {})
      .map((name) => packages.get(name))
      .filter((dir) => dir !== undefined);
  return readdirSync(join(root, "services"))
    .filter((name) => existsSync(join(root, "services", name, "package.json")))
    .sort()
    .map((name) => {
      const dir = join(root, "services", name);
      const manifest = readJson<PackageJson>(join(dir, "package.json"));
      const envShape = serviceEnvShapes[name];
      if (envShape === undefined) throw new Error(`${name}: add its env shape to serviceEnvShapes`);
      return {
        name,
        envShape,
        port: defaultPort(name, envShape),
        runtimePackages: workspaceDirs(manifest.dependencies),
        devPackages: workspaceDirs(manifest.devDependencies),
      };
    });
}

/**
 * The workspace's projects (e.g. "packages/kit", "services/dlq"), as pnpm-workspace.yaml's
 * `<dir>/*` patterns find them: each directory there with a package.json.
 */
export function workspaceProjectDirs(): string[] {
  const root = repoRoot();
  const workspace = parse(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as {
    packages?: string[];
  };
  return (workspace.packages ?? []).flatMap((pattern) => {
    const parent = /^([\w-]+)\/\*$/.exec(pattern)?.[1];
    if (parent === undefined) throw new Error(`pnpm-workspace.yaml: cannot expand ${pattern}`);
    return readdirSync(join(root, parent))
      .filter((dir) => existsSync(join(root, parent, dir, "package.json")))
      .sort()
      .map((dir) => `${parent}/${dir}`);
  });
}

/** Every manifest `pnpm install --frozen-lockfile` checks the lockfile against, and the lockfile. */
export function workspaceManifests(): string[] {
  return [
    "package.json",
    "pnpm-lock.yaml",
    ...workspaceProjectDirs().map((dir) => `${dir}/package.json`),
  ];
}
