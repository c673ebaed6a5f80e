/**
 * The highest threshold a value rose to or past since the last reading, or undefined: a value
 * that stays above a threshold, or falls, says nothing; falling below and rising again does.
 * `thresholds` ascending.
 */
export function highestCrossing(
  thresholds: readonly number[],
  previous: number,
  current: number,
): number | undefined {
  let crossed: number | undefined;
  for (const threshold of thresholds) {
    if (previous < threshold && current >= threshold) crossed = threshold;
  }
  return crossed;
}

/** How many thresholds a value has reached: 0 below the first. */
export function levelOf(thresholds: readonly number[], value: number): number {
  let level = 0;
  for (const threshold of thresholds) if (value >= threshold) level++;
  return level;
}
