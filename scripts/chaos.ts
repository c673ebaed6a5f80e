// `pnpm chaos`: the chaos suite (test/chaos). Real nats-server, Postgres and the four services as
// separate processes on 127.0.0.1; failures injected under steady load; every accepted event
// accounted for. `--short` is the CI form; `--only a,b` runs some scenarios. A full run (no
// --short, no --only) writes docs/reliability.md. Stops by itself: CHAOS_MAX_MINUTES (60, 15 short).
import { passed, runChaos, summarizeResult } from "../test/chaos/suite";

const args = process.argv.slice(2);
const short = args.includes("--short");
const onlyArg = args.find((a) => a.startsWith("--only"));
const only = onlyArg
  ? (onlyArg.split("=")[1] ?? args[args.indexOf(onlyArg) + 1] ?? "").split(",").filter(Boolean)
  : [];
const started = Date.now();
const log = (line: string) =>
  process.stderr.write(
    `[chaos ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`,
  );
const results = await runChaos({ short, only, log });
for (const r of results) console.log(`${r.id}: ${summarizeResult(r)}`);
process.exit(results.every(passed) ? 0 : 1);
