import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@hookline/testkit";

export interface ServiceInfo {
  /** The directory under services/, which is also the Dockerfile target and the k8s name. */
  name: string;
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

/** The port a service listens on unless PORT says otherwise, read from its env shape. */
function defaultPort(serviceDir: string): number {
  for (const file of ["config.ts", "main.ts"]) {
    const path = join(serviceDir, "src", file);
    if (!existsSync(path)) continue;
    const match = /\bPORT:\s*portEnv\.default\(([\d_]+)\)/.exec(readFileSync(path, "utf8"));
    if (match?.[1] !== undefined) return Number(match[1].replaceAll("_", ""));
  }
  throw new Error(`no PORT: portEnv.default(…) in ${serviceDir}/src/config.ts or main.ts`);
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
      return {
        name,
        port: defaultPort(dir),
        runtimePackages: workspaceDirs(manifest.dependencies),
        devPackages: workspaceDirs(manifest.devDependencies),
      };
    });
}
