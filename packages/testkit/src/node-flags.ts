import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./repo-root";

/**
 * The node flags a service runs with, from its package.json start script (`exec node <flags>
 * dist/main.js`): where the service says how it runs, and what the Dockerfile's target repeats
 * (test/deploy/dockerfile.test.ts holds them equal).
 */
export function serviceNodeFlags(name: string): string[] {
  const manifest = JSON.parse(
    readFileSync(join(repoRoot(), "services", name, "package.json"), "utf8"),
  ) as { scripts?: Record<string, string> };
  const words = (manifest.scripts?.start ?? "").trim().split(/\s+/);
  const node = words.indexOf("node");
  const entry = words.indexOf("dist/main.js");
  if (node < 0 || entry < node) {
    throw new Error(`services/${name}/package.json: start is not "exec node … dist/main.js"`);
  }
  return words.slice(node + 1, entry);
}

/** The same flags for running src/main.ts with tsx: no source maps flag (tsx makes its own). */
export const sourceNodeFlags = (name: string): string[] =>
  serviceNodeFlags(name).filter((flag) => flag !== "--enable-source-maps");
