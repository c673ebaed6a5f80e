import { randomBytes } from "node:crypto";
import type { EndpointRecord, EndpointSecret } from "@hookline/contracts";
import {
  type OpenedValue,
  openEndpointRecord,
  openEndpointValue,
  type SecretBox,
  sealEndpointRecord,
  secretSealContext,
} from "@hookline/kit";

export const SECRET_PREFIX = "whsec_";
/** Standard Webhooks asks for keys of 24 to 64 bytes. */
export const SECRET_MIN_BYTES = 24;
export const SECRET_MAX_BYTES = 64;
/** How long a rotated-out secret still verifies, so receivers can switch without downtime. */
export const ROTATION_GRACE_MS = 24 * 3_600_000;
/** Every valid secret adds a signature to each request; rotating in a loop must not grow that. */
export const MAX_SECRETS = 10;

export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_MIN_BYTES).toString("base64")}`;
}

/** The key length a `whsec_<base64>` secret decodes to, or undefined when it is not one. */
export function secretKeyBytes(secret: string): number | undefined {
  if (!secret.startsWith(SECRET_PREFIX)) return undefined;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return undefined;
  return Buffer.from(encoded, "base64").length;
}

/** Secrets that have expired are dropped on every write, so the record never accumulates them. */
export function withoutExpiredSecrets(secrets: EndpointSecret[], now: number): EndpointSecret[] {
  return secrets.filter(
    (secret) => secret.expiresAt === undefined || Date.parse(secret.expiresAt) > now,
  );
}

/**
 * Puts `value` first and lets every older secret expire within the grace period (an earlier
 * expiry is kept). Expired and surplus old secrets are dropped.
 */
export function rotatedSecrets(
  record: EndpointRecord,
  value: string,
  now: number,
): EndpointSecret[] {
  const graceEnd = now + ROTATION_GRACE_MS;
  const older = withoutExpiredSecrets(record.secrets, now)
    .filter((secret) => secret.value !== value)
    .map((secret) => {
      const expires = secret.expiresAt === undefined ? graceEnd : Date.parse(secret.expiresAt);
      return { ...secret, expiresAt: new Date(Math.min(expires, graceEnd)).toISOString() };
    });
  const newest: EndpointSecret = { value, createdAt: new Date(now).toISOString() };
  return [newest, ...older].slice(0, MAX_SECRETS);
}

/**
 * How the registry keeps signing secrets and header values encrypted in the bucket: a change is
 * applied to the record opened, and the record is sealed again as a whole before it is written.
 */
export interface EndpointSealer {
  /** Throws a SealedValueError when a stored value does not open (a key missing). */
  open(record: EndpointRecord): EndpointRecord;
  seal(record: EndpointRecord): EndpointRecord;
}

/** HOOKLINE_ENCRYPTION_KEYS' box; undefined (HOOKLINE_ALLOW_PLAINTEXT_SECRETS) writes plaintext. */
export function endpointSealer(box: SecretBox | undefined): EndpointSealer {
  return {
    open(record) {
      const opened = openEndpointRecord(box, record);
      if (opened.outcome === "unopenable") throw opened.error;
      return opened.record;
    },
    seal: (record) => (box === undefined ? record : sealEndpointRecord(box, record)),
  };
}

/** The newest signing secret in plaintext, as GET …/secret shows it. */
export function newestSecret(box: SecretBox | undefined, record: EndpointRecord): OpenedValue {
  const value = record.secrets[0]?.value ?? "";
  return openEndpointValue(box, record.id, "secrets[0]", secretSealContext(record.id), value);
}
