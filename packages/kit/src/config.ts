import {
  DEFAULT_BLOCKED_PORTS,
  type EndpointPortPolicy,
  type PortRange,
  parseDuration,
  parseDurationList,
  parsePortList,
  prefixSchema,
} from "@hookline/contracts";
import { z } from "zod";
import { type NatsAuthEnv, natsAuthEnvShape, natsAuthOptions, natsAuthProblems } from "./nats-auth";

/** A duration env var such as "10m" or "200ms", parsed to milliseconds. */
export const durationEnv = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration such as 200ms, 5s or 10m, got "${text}"`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A comma-separated list of durations, such as RETRY_SCHEDULE. */
export const durationListEnv = z.string().transform((text, ctx) => {
  const list = parseDurationList(text);
  if (list === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected durations separated by commas, got "${text}"`,
    });
    return z.NEVER;
  }
  return list;
});

/** A list of numbers such as OPS_DEADLETTER_THRESHOLDS `50,100`, ascending, each within bounds. */
export function numberListEnv(min: number, max: number, fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const values = text.split(",").map((part) => Number(part.trim()));
      const bad = values.find((value) => !Number.isFinite(value) || value < min || value > max);
      if (text.trim() === "" || bad !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `expected numbers from ${min} to ${max} separated by commas, got "${text}"`,
        });
        return z.NEVER;
      }
      return [...new Set(values)].sort((a, b) => a - b);
    });
}

export const booleanEnv = z
  .enum(["true", "false", "1", "0"], { message: "expected true or false" })
  .transform((value) => value === "true" || value === "1");

export const portEnv = z.coerce.number().int().min(0).max(65_535);

/** `name:token` pairs separated by commas; the name is who acted, the token what they hold. */
export const tokenPairsEnv = z.string().transform((text, ctx) => {
  const pairs = new Map<string, string>();
  for (const entry of text.split(",").map((part) => part.trim())) {
    if (entry === "") continue;
    const colon = entry.indexOf(":");
    const name = entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    if (colon <= 0 || token.length < 8 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
      ctx.addIssue({
        code: "custom",
        message: "expected name:token pairs separated by commas, each token at least 8 characters",
      });
      return z.NEVER;
    }
    pairs.set(token, name);
  }
  if (pairs.size === 0) {
    ctx.addIssue({ code: "custom", message: "expected at least one name:token pair" });
    return z.NEVER;
  }
  return [...pairs].map(([token, name]) => ({ name, token }));
});

const streamBytesEnv = z.coerce
  .number()
  .int()
  .min(4_096)
  .default(1024 ** 3);

/** Variables every service reads. */
export const commonEnvShape = {
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  HOOKLINE_PREFIX: prefixSchema.default("hookline"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Human-readable logs for the dev runner; JSON otherwise. */
  LOG_PRETTY: booleanEnv.default(false),
  SHUTDOWN_TIMEOUT: durationEnv.default(25_000),
  /** Provisioning: every service applies the same stream settings, so they must agree. */
  INGEST_DEDUPE_WINDOW: durationEnv.default(600_000),
  /** Byte budgets of the streams; each refuses new messages when full (see provision). */
  DISPATCH_MAX_BYTES: streamBytesEnv,
  DISPATCH_RETRY_MAX_BYTES: streamBytesEnv,
  RETRY_MAX_BYTES: streamBytesEnv,
  OUTCOMES_MAX_BYTES: streamBytesEnv,
  DEADLETTER_MAX_BYTES: streamBytesEnv,
  ATTEMPTS_MAX_BYTES: streamBytesEnv,
  /** Fresh tasks one endpoint may have waiting; beyond it they dead-letter as backlog_full. */
  ENDPOINT_BACKLOG_QUOTA: z.coerce.number().int().min(1).max(100_000_000).default(100_000),
  JETSTREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Once the heap is large: how far V8 grows it past its live size before a full GC (0: V8's own). */
  HEAP_GROWTH_PERCENT: z.coerce.number().int().min(0).max(300).default(25),
  /** NATS credentials, TLS files and inbox prefix (nats-auth.ts); none: no authentication. */
  ...natsAuthEnvShape,
  /**
   * apply: create and update the streams, durables and buckets at start (dev, tests, `npm start`).
   * verify: only check they exist, waiting for the provision step (production; the service's
   * NATS user may not change stream config).
   */
  HOOKLINE_PROVISION: z.enum(["apply", "verify"]).default("apply"),
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
  }
}

/** Parses the environment once; a bad one throws a ConfigError naming every bad variable. */
export function parseEnv<S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<S>> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = z.object(shape).safeParse(present);
  if (parsed.success) {
    // Variables that are only wrong together (NATS_USER without NATS_PASSWORD, …).
    const problems = natsAuthProblems(parsed.data as NatsAuthEnv);
    if (problems.length > 0) throw new ConfigError(problems);
    return parsed.data;
  }
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    return env[name] === undefined || env[name] === ""
      ? `${name} is required (${issue.message})`
      : `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/**
 * For a composition root: parse, or print one clear message and exit non-zero. `check` adds
 * rules across variables; it throws a ConfigError naming them.
 */
export function loadEnvOrExit<S extends z.ZodRawShape>(
  service: string,
  shape: S,
  check?: (env: z.infer<z.ZodObject<S>>) => void,
): z.infer<z.ZodObject<S>> {
  try {
    const env = parseEnv(shape);
    check?.(env);
    // The NATS files too (creds, seed, certificates): a wrong path is a configuration error.
    const auth = natsAuthOptions(env as NatsAuthEnv);
    if (auth.outcome === "invalid") throw new ConfigError(auth.problems);
    return env;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(78);
  }
}

/** Ports and ranges separated by commas, such as "443,8000-8999"; "none" is the empty list. */
export const portListEnv = z.string().transform((text, ctx) => {
  const ranges = parsePortList(text);
  if (ranges === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected ports 1-65535 or ranges such as 8000-8999 separated by commas, or none, got "${text}"`,
    });
    return z.NEVER;
  }
  return ranges;
});

/** The ports endpoint URLs may use: ingest refuses others on write, delivery at send time. */
export const endpointPortEnvShape = {
  ENDPOINT_BLOCKED_PORTS: portListEnv.default([...DEFAULT_BLOCKED_PORTS]),
  /** Unset: any port that is not blocked. */
  ENDPOINT_ALLOWED_PORTS: portListEnv.optional(),
};

export function endpointPortPolicyFromEnv(env: {
  ENDPOINT_BLOCKED_PORTS: PortRange[];
  ENDPOINT_ALLOWED_PORTS?: PortRange[] | undefined;
}): EndpointPortPolicy {
  return { blocked: env.ENDPOINT_BLOCKED_PORTS, allowed: env.ENDPOINT_ALLOWED_PORTS };
}
