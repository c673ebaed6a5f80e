import { createHmac, type KeyObject } from "node:crypto";

const SECRET_PREFIX = "whsec_";

/** The HMAC key of a `whsec_<base64>` secret: the decoded bytes after the prefix. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, "base64");
}

export interface SignatureInput {
  /** `webhook-id`: the event id, stable across retries. */
  id: string;
  /** `webhook-timestamp`: unix seconds at send time. */
  timestamp: number;
  /** The exact body bytes that are sent; never decoded or re-serialised. */
  body: Uint8Array;
  /** The HMAC keys of the active secrets, newest first; one signature each. */
  keys: readonly KeyObject[];
}

/**
 * The `webhook-signature` value per Standard Webhooks: `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">` for each secret, separated by spaces, so receivers that hold
 * either the old or the new secret verify during a rotation.
 */
export function webhookSignature(input: SignatureInput): string {
  const prefix = `${input.id}.${input.timestamp}.`;
  return input.keys
    .map((key) => {
      const mac = createHmac("sha256", key);
      mac.update(prefix);
      mac.update(input.body);
      return `v1,${mac.digest("base64")}`;
    })
    .join(" ");
}
