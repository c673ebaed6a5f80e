/**
 * How deep a payload may nest arrays and objects. JSON.stringify recurses once per level and
 * overflows the stack a few thousand levels down; real webhook payloads stay far above this.
 */
export const MAX_PAYLOAD_DEPTH = 64;

/**
 * Whether a parsed JSON value nests arrays and objects at most `max` levels deep (`{}` and `[]`
 * are one level, a scalar none). Iterative, so a deep value cannot overflow the stack here too,
 * and it stops at the first container past the limit.
 */
export function nestsAtMost(value: unknown, max: number = MAX_PAYLOAD_DEPTH): boolean {
  const containers: object[] = [];
  const levels: number[] = [];
  if (typeof value === "object" && value !== null) {
    containers.push(value);
    levels.push(1);
  }
  for (let container = containers.pop(); container !== undefined; container = containers.pop()) {
    const level = levels.pop() ?? 0;
    if (level > max) return false;
    for (const child of Array.isArray(container) ? container : Object.values(container)) {
      if (typeof child === "object" && child !== null) {
        containers.push(child);
        levels.push(level + 1);
      }
    }
  }
  return true;
}
