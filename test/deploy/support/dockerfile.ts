import { posix } from "node:path";

export interface DockerInstruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  text: string;
}

export interface DockerStage {
  /** The image or earlier stage it starts from. */
  from: string;
  /** The `AS` name, lower-case; undefined for an unnamed stage. */
  name: string | undefined;
  instructions: DockerInstruction[];
}

export interface Dockerfile {
  /** `ARG`s before the first FROM, with their defaults. */
  globalArgs: Map<string, string>;
  stages: DockerStage[];
}

/** Splits a Dockerfile into stages and instructions; comments and blank lines are dropped. */
export function parseDockerfile(text: string): Dockerfile {
  const logical: string[] = [];
  let pending = "";
  for (const line of text.split("\n")) {
    // Comments (the syntax directive too), also between continuation lines.
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, "").trim()} `;
    if (!continued) {
      if (pending.trim() !== "") logical.push(pending.trim());
      pending = "";
    }
  }
  if (pending.trim() !== "") logical.push(pending.trim());

  const globalArgs = new Map<string, string>();
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const space = line.search(/\s/);
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const rest = space < 0 ? "" : line.slice(space + 1).trim();
    if (keyword === "FROM") {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (match === null) throw new Error(`cannot read: FROM ${rest}`);
      stages.push({ from: match[1] ?? "", name: match[2]?.toLowerCase(), instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== "ARG") throw new Error(`${keyword} before the first FROM`);
      const [name = "", value = ""] = rest.split("=");
      globalArgs.set(name, value);
    } else {
      stages.at(-1)?.instructions.push({ keyword, text: rest });
    }
  }
  return { globalArgs, stages };
}

/** Flags (`--from=x`, `--chown=a:b`) and paths of a COPY or ADD instruction. */
export function copyArguments(text: string): {
  flags: Map<string, string>;
  sources: string[];
  destination: string;
} {
  const words = text.split(/\s+/).filter((word) => word !== "");
  const flags = new Map<string, string>();
  while (words[0]?.startsWith("--")) {
    const [flag = "", value = ""] = (words.shift() ?? "").slice(2).split("=");
    flags.set(flag, value);
  }
  const destination = words.pop() ?? "";
  return { flags, sources: words, destination };
}

/** The stage `name` and every stage it is built on, nearest first. */
export function stageLineage(dockerfile: Dockerfile, name: string): DockerStage[] {
  const lineage: DockerStage[] = [];
  let current = dockerfile.stages.find((stage) => stage.name === name);
  while (current !== undefined) {
    lineage.push(current);
    const parent = current.from.toLowerCase();
    current = dockerfile.stages.find((stage) => stage.name === parent);
  }
  return lineage;
}

/**
 * Whether .dockerignore keeps `path` (relative to the context, no leading "./") out of the build
 * context: a pattern excludes a path when it matches the path or one of its parent directories.
 */
export function dockerignoreExcludes(dockerignore: string, path: string): boolean {
  const rules = dockerignore
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const exception = line.startsWith("!");
      const body = line
        .slice(exception ? 1 : 0)
        .replace(/^\.?\//, "")
        .replace(/\/$/, "")
        .split("**/")
        .map((part) =>
          part
            .split("*")
            .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
            .join("[^/]*"),
        )
        .join("(?:.*/)?");
      return { exception, expression: new RegExp(`^${body}$`) };
    });
  const segments = path.replace(/^\.?\//, "").split("/");
  const prefixes = segments.map((_, index) => segments.slice(0, index + 1).join("/"));
  // As Docker reads it: the last pattern that matches the path or a parent of it decides, so a
  // later "!path" lets that path back in.
  let excluded = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.expression.test(prefix))) excluded = !rule.exception;
  }
  return excluded;
}

/** The stages `name` is built from: its lineage and, recursively, the stages it copies from. */
export function stagesNeeded(dockerfile: Dockerfile, name: string): DockerStage[] {
  const needed: DockerStage[] = [];
  const visit = (stageName: string) => {
    for (const stage of stageLineage(dockerfile, stageName)) {
      if (needed.includes(stage)) continue;
      needed.push(stage);
      for (const entry of stage.instructions.filter((i) => i.keyword === "COPY")) {
        const from = copyArguments(entry.text).flags.get("from");
        if (from !== undefined) visit(from);
      }
    }
  };
  visit(name);
  return needed;
}

/** The instructions that build `target`, in build order (its base stage first). */
export function buildOrder(dockerfile: Dockerfile, target: string): DockerInstruction[] {
  return stageLineage(dockerfile, target)
    .reverse()
    .flatMap((stage) => stage.instructions);
}

/** A COPY from the build context, with its destination made absolute against WORKDIR. */
export interface ContextCopy {
  /** Its position in `buildOrder(dockerfile, target)`. */
  index: number;
  sources: string[];
  /** Absolute; ends with "/" when the COPY names a directory to copy into. */
  destination: string;
  chown: string | undefined;
}

/** Every COPY from the build context that builds `target`, in build order. */
export function contextCopies(dockerfile: Dockerfile, target: string): ContextCopy[] {
  let workdir = "/";
  const copies: ContextCopy[] = [];
  buildOrder(dockerfile, target).forEach((entry, index) => {
    if (entry.keyword === "WORKDIR") workdir = posix.resolve(workdir, entry.text);
    if (entry.keyword !== "COPY") return;
    const copy = copyArguments(entry.text);
    if (copy.flags.has("from")) return;
    const trailing = copy.destination.endsWith("/") || copy.destination === ".";
    const absolute = posix.resolve(workdir, copy.destination);
    copies.push({
      index,
      sources: copy.sources,
      destination: trailing ? `${absolute.replace(/\/$/, "")}/` : absolute,
      chown: copy.flags.get("chown"),
    });
  });
  return copies;
}

/**
 * Where the image holds a path of the build context (a file or a directory under a copied
 * source), by the last COPY that puts it there; undefined when no COPY does. A COPY into a
 * directory ("dir/") puts a source file there by its name and a source directory's contents
 * into it; a COPY of one source to a plain path puts it at that path.
 */
export function imagePathOf(
  copies: ContextCopy[],
  path: string,
  isDirectory: (source: string) => boolean,
): string | undefined {
  let found: string | undefined;
  for (const copy of copies) {
    for (const source of copy.sources) {
      if (path !== source && !path.startsWith(`${source}/`)) continue;
      const rest = path.slice(source.length);
      let target: string;
      if (copy.destination.endsWith("/")) {
        target = isDirectory(source)
          ? copy.destination.replace(/\/$/, "") + rest
          : `${copy.destination}${posix.basename(source)}${rest}`;
      } else {
        target = copy.destination + rest;
      }
      found = target;
    }
  }
  return found;
}
