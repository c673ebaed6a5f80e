import { accessSync, constants, readFileSync } from "node:fs";
import {
  type ConnectionOptions,
  credsAuthenticator,
  nkeyAuthenticator,
  type TlsOptions,
} from "@nats-io/transport-node";
import { z } from "zod";

/** A user nkey seed as `nk -gen user` prints it: base32, "SU" and 56 more characters. */
const NKEY_SEED = /^SU[A-Z2-7]{56}$/;

/** What nats.js accepts as an inbox prefix: one or more subject tokens, no wildcards. */
const INBOX_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * How a service authenticates to NATS; all optional (no variable: no authentication, as in
 * development). At most one way of authenticating; TLS goes with any of them.
 */
export const natsAuthEnvShape = {
  /** Path of a .creds file (a user JWT and its seed, as `nsc generate creds` writes it). */
  NATS_CREDS: z.string().optional(),
  /** A user nkey seed (`SU…`) or the path of a file that holds one. */
  NATS_NKEY_SEED: z.string().optional(),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  NATS_TOKEN: z.string().optional(),
  /** CA certificate file (PEM) to verify the server with; setting it requires TLS. */
  NATS_TLS_CA: z.string().optional(),
  /** Client certificate and key files (PEM) for mutual TLS; both or neither. */
  NATS_TLS_CERT: z.string().optional(),
  NATS_TLS_KEY: z.string().optional(),
  /**
   * Subject prefix of this client's reply inboxes (default `_INBOX`). With one per user, a
   * server's permissions can keep each service from reading the others' replies.
   */
  NATS_INBOX_PREFIX: z
    .string()
    .regex(INBOX_PREFIX, "expected subject tokens such as _INBOX_delivery, without wildcards")
    .optional(),
};

export type NatsAuthEnv = {
  [K in keyof typeof natsAuthEnvShape]?: string | undefined;
};

const METHODS = [
  ["NATS_CREDS"],
  ["NATS_NKEY_SEED"],
  ["NATS_USER", "NATS_PASSWORD"],
  ["NATS_TOKEN"],
] as const;

/**
 * Combinations the variables may not come in, one message each: a user without a password, two
 * ways of authenticating at once, a client certificate without its key. Empty when they fit.
 */
export function natsAuthProblems(env: NatsAuthEnv): string[] {
  const problems: string[] = [];
  const set = (name: keyof NatsAuthEnv) => env[name] !== undefined && env[name] !== "";
  const pairs = [
    ["NATS_USER", "NATS_PASSWORD"],
    ["NATS_TLS_CERT", "NATS_TLS_KEY"],
  ] as const;
  for (const [a, b] of pairs) {
    if (set(a) && !set(b)) problems.push(`${b} is required with ${a}`);
    if (set(b) && !set(a)) problems.push(`${a} is required with ${b}`);
  }
  const chosen = METHODS.filter((names) => names.some(set)).map((names) => names.join("/"));
  if (chosen.length > 1) {
    problems.push(`set one way of authenticating to NATS, not ${chosen.join(" and ")}`);
  }
  return problems;
}

export type NatsAuthOptions =
  | { outcome: "ready"; options: Partial<ConnectionOptions> }
  | { outcome: "invalid"; problems: string[] };

export interface NatsAuthFiles {
  /** Throws when the file can't be read by this process. */
  checkReadable(path: string): void;
  read(path: string): Uint8Array;
}

const diskFiles: NatsAuthFiles = {
  checkReadable: (path) => accessSync(path, constants.R_OK),
  read: (path) => readFileSync(path),
};

/**
 * The nats.js connection options for the variables. Files are checked now, so a wrong path
 * stops start-up naming its variable, and read again at each connect, so a rotated creds file,
 * seed or certificate is picked up on the next reconnect. Seeds and passwords stay in closures.
 */
export function natsAuthOptions(env: NatsAuthEnv, files = diskFiles): NatsAuthOptions {
  const problems = natsAuthProblems(env);
  const readable = (name: keyof NatsAuthEnv): string | undefined => {
    const path = env[name];
    if (path === undefined || path === "") return undefined;
    try {
      files.checkReadable(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      problems.push(`${name}: cannot read ${path} (${code})`);
      return undefined;
    }
    return path;
  };

  const options: Partial<ConnectionOptions> = {};
  if (env.NATS_INBOX_PREFIX) options.inboxPrefix = env.NATS_INBOX_PREFIX;

  const creds = readable("NATS_CREDS");
  if (creds !== undefined) {
    if (!/-----BEGIN USER NKEY SEED-----/.test(readText(files, creds))) {
      problems.push(`NATS_CREDS: ${creds} is not a creds file (it holds no user nkey seed)`);
    }
    options.authenticator = credsAuthenticator(() => files.read(creds));
  }

  const seed = env.NATS_NKEY_SEED;
  if (seed !== undefined && seed !== "") {
    if (NKEY_SEED.test(seed.trim())) {
      const bytes = new TextEncoder().encode(seed.trim());
      options.authenticator = nkeyAuthenticator(() => bytes);
    } else if (seed.startsWith("S") && !seed.includes("/")) {
      // Looks like a seed, not a path: never echo it.
      problems.push("NATS_NKEY_SEED: not a user nkey seed (SU followed by 56 characters)");
    } else {
      const path = readable("NATS_NKEY_SEED");
      if (path !== undefined) {
        if (seedLine(readText(files, path)) === undefined) {
          problems.push(`NATS_NKEY_SEED: ${path} holds no user nkey seed`);
        }
        options.authenticator = nkeyAuthenticator(() => seedFromFile(files.read(path)));
      }
    }
  }

  if (env.NATS_USER && env.NATS_PASSWORD) {
    options.user = env.NATS_USER;
    options.pass = env.NATS_PASSWORD;
  }
  if (env.NATS_TOKEN) options.token = env.NATS_TOKEN;

  const tls: TlsOptions = {};
  const ca = readable("NATS_TLS_CA");
  const cert = readable("NATS_TLS_CERT");
  const key = readable("NATS_TLS_KEY");
  if (ca !== undefined) tls.caFile = ca;
  if (cert !== undefined) tls.certFile = cert;
  if (key !== undefined) tls.keyFile = key;
  if (Object.keys(tls).length > 0) options.tls = tls;

  return problems.length > 0 ? { outcome: "invalid", problems } : { outcome: "ready", options };
}

function readText(files: NatsAuthFiles, path: string): string {
  return new TextDecoder().decode(files.read(path));
}

/** A seed file holds the seed, maybe with a trailing newline or comment lines around it. */
function seedLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => NKEY_SEED.test(line));
}

function seedFromFile(content: Uint8Array): Uint8Array {
  const seed = seedLine(new TextDecoder().decode(content));
  if (seed === undefined) throw new Error("NATS_NKEY_SEED: the file holds no user nkey seed");
  return new TextEncoder().encode(seed);
}
