import type { EndpointRecord } from "@hookline/contracts";
import { type SecretBox, sealedKid } from "./secret-box";

/**
 * The additional authenticated data of an endpoint's sealed values: a signing secret opens only
 * in its own record, a header value only as that header of that record. Secrets move between
 * positions when they rotate, so their position is not part of it.
 */
export function secretSealContext(endpointId: string): string {
  return `hookline:endpoint:${endpointId}:secret`;
}

export function headerSealContext(endpointId: string, headerName: string): string {
  return `hookline:endpoint:${endpointId}:header:${headerName}`;
}

/** A stored value that cannot be opened: the message names the field and kid, never the value. */
export class SealedValueError extends Error {
  constructor(
    readonly endpointId: string,
    readonly field: string,
    readonly reason: "unknown_key" | "forged",
    readonly kid: string,
  ) {
    super(
      reason === "unknown_key"
        ? `${field} of endpoint ${endpointId} is sealed under "${kid}", which is not in HOOKLINE_ENCRYPTION_KEYS`
        : `${field} of endpoint ${endpointId} does not open under "${kid}": altered, moved or a different key`,
    );
  }
}

export type OpenedValue =
  | { outcome: "opened"; plaintext: string }
  | { outcome: "unopenable"; error: SealedValueError };

/** Opens one stored value; a plain one (from before encryption) is returned as it is. */
export function openEndpointValue(
  box: SecretBox | undefined,
  endpointId: string,
  field: string,
  context: string,
  value: string,
): OpenedValue {
  const kid = sealedKid(value);
  if (kid === undefined) return { outcome: "opened", plaintext: value };
  const opened = box?.open(value, context) ?? { outcome: "unknown_key", kid };
  if (opened.outcome === "opened" || opened.outcome === "plain") {
    return { outcome: "opened", plaintext: opened.plaintext };
  }
  const error = new SealedValueError(endpointId, field, opened.outcome, opened.kid);
  return { outcome: "unopenable", error };
}

type ValueEdit = (value: string, context: string, field: string) => string;

/** The record with `edit` applied to every secret and header value; the rest is shared. */
function mapEndpointValues(record: EndpointRecord, edit: ValueEdit): EndpointRecord {
  const next: EndpointRecord = {
    ...record,
    secrets: record.secrets.map((secret, index) => ({
      ...secret,
      value: edit(secret.value, secretSealContext(record.id), `secrets[${index}]`),
    })),
  };
  if (record.headers !== undefined) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(record.headers)) {
      headers[name] = edit(value, headerSealContext(record.id, name), `headers.${name}`);
    }
    next.headers = headers;
  }
  return next;
}

/** Thrown inside mapEndpointValues only, to stop at the first value that does not open. */
class Unopenable {
  constructor(readonly error: SealedValueError) {}
}

function openOrStop(
  box: SecretBox | undefined,
  endpointId: string,
  field: string,
  context: string,
  value: string,
): string {
  const opened = openEndpointValue(box, endpointId, field, context, value);
  if (opened.outcome === "unopenable") throw new Unopenable(opened.error);
  return opened.plaintext;
}

export type OpenedRecord =
  | { outcome: "opened"; record: EndpointRecord }
  | { outcome: "unopenable"; error: SealedValueError };

/** The record with every secret and header value in plaintext. */
export function openEndpointRecord(
  box: SecretBox | undefined,
  record: EndpointRecord,
): OpenedRecord {
  try {
    const opened = mapEndpointValues(record, (value, context, field) =>
      openOrStop(box, record.id, field, context, value),
    );
    return { outcome: "opened", record: opened };
  } catch (error) {
    if (error instanceof Unopenable) return { outcome: "unopenable", error: error.error };
    throw error;
  }
}

/** Seals every secret and header value of a record that holds them in plaintext. */
export function sealEndpointRecord(box: SecretBox, plain: EndpointRecord): EndpointRecord {
  return mapEndpointValues(plain, (value, context) => box.seal(value, context));
}

export type ResealResult =
  | { outcome: "unchanged" }
  | { outcome: "resealed"; record: EndpointRecord; values: number }
  | { outcome: "unopenable"; error: SealedValueError };

/**
 * For re-encryption: values that are plain or sealed under another kid are sealed under the
 * box's sealing key; values already under it are kept byte for byte.
 */
export function resealEndpointRecord(box: SecretBox, record: EndpointRecord): ResealResult {
  let values = 0;
  try {
    const next = mapEndpointValues(record, (value, context, field) => {
      if (sealedKid(value) === box.sealingKid) return value;
      values++;
      return box.seal(openOrStop(box, record.id, field, context, value), context);
    });
    return values === 0 ? { outcome: "unchanged" } : { outcome: "resealed", record: next, values };
  } catch (error) {
    if (error instanceof Unopenable) return { outcome: "unopenable", error: error.error };
    throw error;
  }
}
