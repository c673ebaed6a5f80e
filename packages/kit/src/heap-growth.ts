import { getHeapStatistics, setFlagsFromString } from "node:v8";

/** Above this much used heap the cap applies; below `OFF_BELOW_BYTES` V8 decides again. */
const ON_ABOVE_BYTES = 96 * 1024 * 1024;
const OFF_BELOW_BYTES = 64 * 1024 * 1024;
const CHECK_EVERY_MS = 5_000;

/**
 * Caps how far V8 grows the old generation past what a full GC left alive, once the heap is
 * large. Left to itself V8 picks up to 4 × on a machine with a large heap limit: a delivery
 * holding a 100,000-endpoint cache (~150 MB live) went to ~550 MB while releasing a million
 * retries, and back after, which in a pod with a memory limit is an OOM kill. On a small heap
 * the cap would buy little memory for many more full GCs (the benchmark's single events with
 * 10 endpoints: 8 % slower at 25 %), so it applies only above ~96 MB used, and lifts below
 * ~64 MB. V8 reads the flag at every GC, so setting it at run time takes effect; Node refuses it
 * in NODE_OPTIONS. `percent` 0 leaves V8's own choice throughout.
 */
export function boundHeapGrowth(percent: number): { stop(): void } {
  if (percent <= 0) return { stop() {} };
  let capped = false;
  const check = () => {
    const used = getHeapStatistics().used_heap_size;
    if (!capped && used > ON_ABOVE_BYTES) {
      setFlagsFromString(`--heap-growing-percent=${percent}`);
      capped = true;
    } else if (capped && used < OFF_BELOW_BYTES) {
      // 0 is the flag's default: V8's own growing factor.
      setFlagsFromString("--heap-growing-percent=0");
      capped = false;
    }
  };
  check();
  const timer = setInterval(check, CHECK_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
