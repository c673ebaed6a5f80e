import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { isSealedValue } from "@hookline/contracts";
import { z } from "zod";
import { booleanEnv, ConfigError } from "./config";
import type { Logger } from "./logger";

/**
 * Sealed values: `enc:v1:<kid>:<base64url iv>:<base64url ciphertext||tag>`, AES-256-GCM with a
 * random 12-byte IV per value. The caller's context (endpoint id and field) is the additional
 * authenticated data, so a sealed value opens only where it was sealed.
 */
const PREFIX = "enc:v1:";
const ALGORITHM = "aes-256-gcm";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

export interface EncryptionKey {
  readonly kid: string;
  readonly key: Buffer;
}

export type OpenResult =
  | { outcome: "opened"; plaintext: string; kid: string }
  /** Not a sealed value: a plain one from before encryption, returned as it is. */
  | { outcome: "plain"; plaintext: string }
  | { outcome: "unknown_key"; kid: string }
  /** Authentication failed: tampered with, moved to another record or field, or a wrong key. */
  | { outcome: "forged"; kid: string };

export interface SecretBox {
  /** The key new values are sealed under: the first of HOOKLINE_ENCRYPTION_KEYS. */
  readonly sealingKid: string;
  readonly kids: readonly string[];
  seal(plaintext: string, context: string): string;
  open(value: string, context: string): OpenResult;
}

/** The kid of a sealed value, or undefined when the value is plain. */
export function sealedKid(value: string): string | undefined {
  if (!isSealedValue(value)) return undefined;
  return value.slice(PREFIX.length, value.indexOf(":", PREFIX.length));
}

export function createSecretBox(keys: readonly EncryptionKey[]): SecretBox {
  const [sealing] = keys;
  if (sealing === undefined) throw new Error("a secret box needs at least one key");
  const byKid = new Map(keys.map((key) => [key.kid, key.key]));
  return {
    sealingKid: sealing.kid,
    kids: keys.map((key) => key.kid),
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, sealing.key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, "utf8"));
      const sealed = Buffer.concat([
        cipher.update(plaintext, "utf8"),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return `${PREFIX}${sealing.kid}:${iv.toString("base64url")}:${sealed.toString("base64url")}`;
    },
    open(value, context) {
      if (!isSealedValue(value)) return { outcome: "plain", plaintext: value };
      const [kid = "", iv = "", sealed = ""] = value.slice(PREFIX.length).split(":");
      const key = byKid.get(kid);
      if (key === undefined) return { outcome: "unknown_key", kid };
      const bytes = Buffer.from(sealed, "base64url");
      const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(iv, "base64url"), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      try {
        const plaintext = Buffer.concat([
          decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)),
          decipher.final(),
        ]).toString("utf8");
        return { outcome: "opened", plaintext, kid };
      } catch {
        return { outcome: "forged", kid };
      }
    },
  };
}

export type ParsedEncryptionKeys =
  | { outcome: "parsed"; keys: EncryptionKey[] }
  | { outcome: "invalid"; message: string };

/**
 * `kid:base64key,…`: the first key seals, every key opens. Messages name the kid or the
 * position, never key material.
 */
export function parseEncryptionKeys(text: string): ParsedEncryptionKeys {
  const keys: EncryptionKey[] = [];
  const entries = text.split(",").map((entry) => entry.trim());
  for (const [index, entry] of entries.entries()) {
    const position = `entry ${index + 1}`;
    if (entry === "") return { outcome: "invalid", message: `${position} is empty` };
    const colon = entry.indexOf(":");
    const kid = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    if (colon < 0 || !KID.test(kid)) {
      return {
        outcome: "invalid",
        message: `${position}: expected kid:base64key, the kid 1-32 letters, digits, _ or -`,
      };
    }
    if (keys.some((key) => key.kid === kid)) {
      return { outcome: "invalid", message: `the kid "${kid}" is given twice` };
    }
    const key = BASE64.test(encoded) ? Buffer.from(encoded, "base64url") : undefined;
    if (key === undefined || key.length !== KEY_BYTES) {
      return {
        outcome: "invalid",
        message: `the key of "${kid}" must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`,
      };
    }
    keys.push({ kid, key });
  }
  return { outcome: "parsed", keys };
}

export const encryptionKeysEnv = z.string().transform((text, context) => {
  const parsed = parseEncryptionKeys(text);
  if (parsed.outcome === "parsed") return parsed.keys;
  context.addIssue({ code: "custom", message: parsed.message });
  return z.NEVER;
});

/** For the services that hold secrets: ingest seals and opens, delivery opens. */
export const secretEncryptionEnvShape = {
  HOOKLINE_ENCRYPTION_KEYS: encryptionKeysEnv.optional(),
  /** Local development and tests only: store secrets and header values unencrypted. */
  HOOKLINE_ALLOW_PLAINTEXT_SECRETS: booleanEnv.default(false),
};

interface SecretEncryptionEnv {
  HOOKLINE_ENCRYPTION_KEYS?: EncryptionKey[] | undefined;
  HOOKLINE_ALLOW_PLAINTEXT_SECRETS: boolean;
}

/** loadEnvOrExit's check: the keys are required unless plaintext is allowed explicitly. */
export function checkSecretEncryptionEnv(env: SecretEncryptionEnv): void {
  if (env.HOOKLINE_ENCRYPTION_KEYS !== undefined || env.HOOKLINE_ALLOW_PLAINTEXT_SECRETS) return;
  throw new ConfigError([
    "HOOKLINE_ENCRYPTION_KEYS is required (kid:base64key,… with 32-byte keys; the first " +
      "encrypts). HOOKLINE_ALLOW_PLAINTEXT_SECRETS=true stores secrets unencrypted instead, " +
      "for local development only",
  ]);
}

/** The box of HOOKLINE_ENCRYPTION_KEYS, or undefined (with one warning) in plaintext mode. */
export function secretBoxFromEnv(env: SecretEncryptionEnv, logger: Logger): SecretBox | undefined {
  const keys = env.HOOKLINE_ENCRYPTION_KEYS;
  if (keys === undefined) {
    logger.warn(
      "HOOKLINE_ALLOW_PLAINTEXT_SECRETS is on and HOOKLINE_ENCRYPTION_KEYS unset: signing " +
        "secrets and header values are not encrypted at rest",
    );
    return undefined;
  }
  const box = createSecretBox(keys);
  logger.info({ sealingKid: box.sealingKid, kids: box.kids }, "encryption keys loaded");
  return box;
}
