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
  const patterns = dockerignore
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (patterns.some((pattern) => pattern.startsWith("!"))) {
    throw new Error("dockerignoreExcludes does not handle ! exceptions; extend it first");
  }
  const expressions = patterns.map((pattern) => {
    const body = pattern
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
    return new RegExp(`^${body}$`);
  });
  const segments = path.replace(/^\.?\//, "").split("/");
  return segments.some((_, index) => {
    const prefix = segments.slice(0, index + 1).join("/");
    return expressions.some((expression) => expression.test(prefix));
  });
}
