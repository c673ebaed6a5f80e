import { join } from "node:path";
import { ENCRYPTION_ENV_NAMES, encryptionEnvFor } from "./encryption-keys";
import { LineBuffer } from "./line-buffer";
import { describeExit, ManagedProcess } from "./managed-process";
import { repoRoot } from "./repo-root";
import { answersOk, pollUntil } from "./wait";

// Infrastructure and credentials come only from the test: an inherited one would hide a
// missing variable or point the service at the developer's own servers.
const NOT_INHERITED = [
  "NATS_URL",
  "DATABASE_URL",
  "PORT",
  "INGEST_API_TOKENS",
  "DLQ_API_TOKENS",
  ...ENCRYPTION_ENV_NAMES,
];
/** After SIGTERM, a service gets this long before SIGKILL (and an exit code of null). */
const TERMINATE_GRACE_MS = 20_000;

export interface ServiceProcess {
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its exit code once it ends; null when a signal ended it. */
  readonly exitCode: Promise<number | null>;
  /** Waits for its "… listening" log line; `http://127.0.0.1:<the port it names>`. */
  baseUrl(timeoutMs?: number): Promise<string>;
  /** Waits until GET /readyz answers 200; fails at once if the process ends. */
  ready(timeoutMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL past a grace period; resolves once it has exited. */
  terminate(): Promise<void>;
}

/**
 * Runs one service's `src/main.ts` alone, for the main.ts tests of bad env, start-up and
 * SIGTERM: only the env given here reaches it besides the ordinary inherited one.
 */
export function runService(
  name: string,
  env: Record<string, string>,
  /** Another entry of the service's src/, such as the provision step ("provision"). */
  entry = "main",
): ServiceProcess {
  const root = repoRoot();
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  for (const key of NOT_INHERITED) delete inherited[key];
  // Unbounded: tests assert on all of the output (a token never logged, one config line).
  const logs = new LineBuffer(Number.POSITIVE_INFINITY);
  const proc = new ManagedProcess({
    command: process.execPath,
    args: ["--import", "tsx", join(root, "services", name, "src", `${entry}.ts`)],
    cwd: root,
    env: { ...inherited, ...encryptionEnvFor(name), ...env },
    logs,
  });
  const output = () => logs.lines().join("\n");
  const failIfExited = () => {
    if (!proc.running) throw new Error(`${name} ${describeExit(proc.exit)}:\n${output()}`);
  };

  const baseUrl = async (timeoutMs = 20_000) => {
    let port: string | undefined;
    await pollUntil(
      async () => {
        port = /"port":(\d+)[^\n]*"msg":"[^"]*listening"/.exec(output())?.[1];
        if (port === undefined) failIfExited();
        return port !== undefined;
      },
      { timeoutMs, what: `${name} to log its port`, detail: output },
    );
    return `http://127.0.0.1:${port}`;
  };

  return {
    output,
    exitCode: proc.exited.then((exit) => exit.code),
    baseUrl,
    async ready(timeoutMs) {
      const base = await baseUrl(timeoutMs);
      await pollUntil(
        async () => {
          failIfExited();
          return answersOk(`${base}/readyz`);
        },
        { timeoutMs, what: `${name} /readyz`, detail: output },
      );
    },
    terminate: () => proc.terminate(TERMINATE_GRACE_MS),
  };
}
