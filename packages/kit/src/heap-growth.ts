import { setFlagsFromString } from "node:v8";

/**
 * Caps how far V8 grows the old generation past what a full GC left alive. Left to itself it
 * picks up to 4 × on a machine with a large heap limit: a delivery holding a 100,000-endpoint
 * cache (~150 MB live) went to ~550 MB while releasing a million retries, and back after, which
 * in a pod with a memory limit is an OOM kill. 25 % costs more frequent full GCs, all
 * incremental. The flag is read at every GC, so setting it at start-up takes effect; Node
 * refuses it in NODE_OPTIONS. 0 leaves V8's own choice.
 */
export function boundHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
