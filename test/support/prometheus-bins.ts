import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * A Prometheus program the tests need: `$<variable>` (npm test sets PROMTOOL_BIN and
 * PROMETHEUS_BIN, scripts/system-tools.mjs), else PATH, else where Debian's `prometheus` package
 * puts it. Its absence is a failure, never a skip.
 */
function prometheusProgram(variable: string, name: string): string {
  const fromEnv = process.env[variable];
  if (fromEnv) return fromEnv;
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const dir of [...dirs, "/usr/bin", "/usr/local/bin"]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} not found on PATH or in /usr/bin. \`npm test\` installs it (as root with apt); or ` +
      "install it yourself (Debian/Ubuntu: apt-get install --no-install-recommends prometheus, or " +
      `a release from https://prometheus.io/download/), or set ${variable} to its path`,
  );
}

/** promtool: checks the config, rules and metric expositions. */
export function promtoolBin(): string {
  return prometheusProgram("PROMTOOL_BIN", "promtool");
}

/** The Prometheus server, which test/e2e runs against the services. */
export function prometheusBin(): string {
  return prometheusProgram("PROMETHEUS_BIN", "prometheus");
}
