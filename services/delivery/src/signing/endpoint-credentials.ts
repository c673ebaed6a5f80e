import { createSecretKey, type KeyObject } from "node:crypto";
import type { EndpointRecord } from "@hookline/contracts";
import {
  headerSealContext,
  openEndpointValue,
  type SecretBox,
  sealedKid,
  secretSealContext,
} from "@hookline/kit";
import { secretKey } from "./signature";

/**
 * An endpoint's signing keys and header values, opened from the record as stored (sealed, or
 * plain from before encryption) the first time they are needed. The plaintext lives only here,
 * in memory; the endpoint cache keeps records sealed, so no other service needs the keys.
 */
export interface EndpointCredentials {
  /** The HMAC key of one of the endpoint's stored secrets. Throws a SealedValueError. */
  signingKey(endpointId: string, stored: string): KeyObject;
  /** Its own headers, names lower-cased, values opened. Throws a SealedValueError. */
  headers(endpoint: EndpointRecord): Readonly<Record<string, string>>;
}

/** Secrets are a few per endpoint; past this many the map starts over rather than grow. */
const MAX_KEYS = 10_000;
/** A plain secret has no AAD binding it to one endpoint: its key serves any endpoint. */
const ANY_ENDPOINT = "";
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export function createEndpointCredentials(
  box: SecretBox | undefined,
  maxKeys = MAX_KEYS,
): EndpointCredentials {
  // Decoding a key per webhook showed up in profiles, and opening one costs more: keep them,
  // by stored value. A sealed value's AAD is checked only when it is opened, so its key is
  // given out for the endpoint it was opened for only.
  const keys = new Map<string, { endpointId: string; key: KeyObject }>();
  // Keyed by the cached record's headers object: a new revision is a new object, and entries go
  // with the records the cache lets go of.
  const opened = new WeakMap<
    Record<string, string>,
    { endpointId: string; headers: Readonly<Record<string, string>> }
  >();

  return {
    signingKey(endpointId, stored) {
      const known = keys.get(stored);
      if (
        known !== undefined &&
        (known.endpointId === endpointId || known.endpointId === ANY_ENDPOINT)
      ) {
        return known.key;
      }
      const context = secretSealContext(endpointId);
      const secret = openEndpointValue(box, endpointId, "a signing secret", context, stored);
      if (secret.outcome === "unopenable") throw secret.error;
      const key = createSecretKey(secretKey(secret.plaintext));
      if (keys.size >= maxKeys) keys.clear();
      const owner = sealedKid(stored) === undefined ? ANY_ENDPOINT : endpointId;
      keys.set(stored, { endpointId: owner, key });
      return key;
    },
    headers(endpoint) {
      const stored = endpoint.headers;
      if (stored === undefined) return NO_HEADERS;
      const known = opened.get(stored);
      if (known !== undefined && known.endpointId === endpoint.id) return known.headers;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(stored)) {
        const context = headerSealContext(endpoint.id, name);
        const header = openEndpointValue(box, endpoint.id, `header ${name}`, context, value);
        if (header.outcome === "unopenable") throw header.error;
        headers[name.toLowerCase()] = header.plaintext;
      }
      opened.set(stored, { endpointId: endpoint.id, headers });
      return headers;
    },
  };
}
