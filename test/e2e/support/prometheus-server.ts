import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, LineBuffer, pollUntil } from "@hookline/testkit";
import { prometheusBin } from "../../support/prometheus-bins";

/** The `data` of a successful Prometheus HTTP API answer. */
export interface PrometheusAnswer<T> {
  status: string;
  data: T;
  error?: string;
}

export interface InstantSeries {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** GET /api/v1/query; throws unless Prometheus answers 200 with status "success". */
  query(expr: string): Promise<InstantSeries[]>;
  /** GET /api/v1/<path>, answered as JSON whatever the status. */
  api<T>(path: string): Promise<PrometheusAnswer<T>>;
  logs(): string[];
  /** SIGTERM (SIGKILL after 10 s) to the process this started, then removes its directory. */
  stop(): Promise<void>;
}

/**
 * Runs the Prometheus server (PROMETHEUS_BIN, else PATH, else Debian's) with `config` (YAML
 * text) on a free port, storing its TSDB in a temp dir, and resolves once /-/ready answers 200.
 */
export async function startPrometheus(config: string): Promise<PrometheusServer> {
  const bin = prometheusBin();
  const dir = await mkdtemp(join(tmpdir(), "hookline-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs = new LineBuffer(500);

  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      logs.push(`spawn ${bin}: ${error.message}`);
      resolve();
    });
  });
  const record = (chunk: Buffer) => logs.write(chunk.toString("utf8"));
  child.stdout?.on("data", record);
  child.stderr?.on("data", record);
  const running = () => child.exitCode === null && child.signalCode === null && child.pid;

  const stop = async () => {
    if (running()) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await pollUntil(
      async () => {
        if (!running()) throw new Error(`prometheus exited:\n${logs.tail()}`);
        try {
          return (await fetch(`${url}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: "prometheus /-/ready",
        detail: () => logs.tail(),
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const api = async <T>(path: string): Promise<PrometheusAnswer<T>> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    return (await res.json()) as PrometheusAnswer<T>;
  };
  return {
    url,
    api,
    async query(expr) {
      const answer = await api<{ resultType: string; result: InstantSeries[] }>(
        `query?query=${encodeURIComponent(expr)}`,
      );
      if (answer.status !== "success") {
        throw new Error(`query ${expr} failed: ${answer.error ?? JSON.stringify(answer)}`);
      }
      return answer.data.result;
    },
    logs: () => logs.lines(),
    stop,
  };
}
