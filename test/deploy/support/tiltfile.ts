import { spawnSync } from "node:child_process";

/** One call of a Tilt builtin, with its arguments evaluated. */
export interface TiltCall {
  fn: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** A live_update step or other value a Tilt builtin returned, as the recorder encodes it. */
export interface TiltValue {
  step: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

// Runs the Tiltfile as Python with every Tilt builtin it uses replaced by a recorder, so the
// test sees the arguments as Tilt would (loops and string formatting evaluated). A builtin
// missing here fails with a NameError: add it to `builtins`.
const recorder = `
import json, sys
source = sys.stdin.read()
calls = []
def recorder(name):
    def record(*args, **kwargs):
        calls.append({"fn": name, "args": list(args), "kwargs": kwargs})
        return {"step": name, "args": list(args), "kwargs": kwargs}
    return record
builtins = ["load", "docker_build", "docker_build_with_restart", "sync", "run", "fall_back_on",
            "k8s_yaml", "kustomize", "k8s_resource", "local_resource", "watch_file",
            "allow_k8s_contexts", "update_settings", "include", "local"]
scope = {name: recorder(name) for name in builtins}
scope["TRIGGER_MODE_MANUAL"] = "TRIGGER_MODE_MANUAL"
scope["TRIGGER_MODE_AUTO"] = "TRIGGER_MODE_AUTO"
exec(compile(source, "Tiltfile", "exec"), scope)
print(json.dumps(calls))
`;

function python(script: string, input: string): string {
  const run = spawnSync("python3", ["-c", script], { input, encoding: "utf8" });
  if (run.error !== undefined) {
    throw new Error(`python3 is needed to read the Tiltfile: ${run.error.message}`);
  }
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return run.stdout;
}

/** Throws with Python's message when the Tiltfile is not valid Python (Starlark's syntax). */
export function parseTiltfileAsPython(source: string): void {
  python("import ast, sys; ast.parse(sys.stdin.read(), 'Tiltfile')", source);
}

/** Every Tilt builtin the Tiltfile calls, in order, with evaluated arguments. */
export function recordTiltfileCalls(source: string): TiltCall[] {
  return JSON.parse(python(recorder, source)) as TiltCall[];
}

/** Every string literal in the Tiltfile, as Python's ast reads it. */
export function tiltfileStringLiterals(source: string): string[] {
  const script =
    "import ast, json, sys\n" +
    "tree = ast.parse(sys.stdin.read())\n" +
    "print(json.dumps([n.value for n in ast.walk(tree)" +
    " if isinstance(n, ast.Constant) and isinstance(n.value, str)]))";
  return JSON.parse(python(script, source)) as string[];
}
