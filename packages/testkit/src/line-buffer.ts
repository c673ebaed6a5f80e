/**
 * Keeps the last `capacity` lines written to it, so a long-running child's output can be
 * shown when something fails without growing memory for the life of a test run.
 */
export class LineBuffer {
  readonly #capacity: number;
  readonly #lines: string[] = [];
  // Output arrives in arbitrary chunks; the unfinished tail waits here for its newline.
  #partial = "";

  constructor(capacity = 2000) {
    this.#capacity = capacity;
  }

  /** Appends a chunk of output and returns the complete lines it finished. */
  write(chunk: string): string[] {
    const parts = (this.#partial + chunk).split(/\r?\n/);
    this.#partial = parts.pop() ?? "";
    for (const line of parts) this.#push(line);
    return parts;
  }

  /** Appends one whole line (used for markers such as "restarted"). */
  push(line: string): void {
    this.#push(line);
  }

  /** All retained lines, including an unfinished last line. */
  lines(): string[] {
    return this.#partial === "" ? [...this.#lines] : [...this.#lines, this.#partial];
  }

  /** The last `n` lines joined for an error message. */
  tail(n = 40): string {
    return this.lines().slice(-n).join("\n");
  }

  #push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity)
      this.#lines.splice(0, this.#lines.length - this.#capacity);
  }
}
