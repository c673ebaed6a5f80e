import { z } from "zod";

/** Endpoint ids are subject tokens, so they carry no dots, wildcards or spaces. */
export const ENDPOINT_ID_PATTERN = /^ep_[0-9A-HJKMNP-TV-Z]{26}$/;
/** Event ids travel in headers and in Nats-Msg-Id, so they are printable and bounded. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/;
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Tenant ids are chosen by the caller (a SaaS uses its own customer id). "." and ".." are
 * refused: as URL path segments they name the parent, so no path could reach them.
 */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const tenantIdSchema = z
  .string()
  .regex(TENANT_ID_PATTERN, "1–64 characters: letters, digits and _ . -")
  .refine((id) => id !== "." && id !== "..", { message: "not . or .." });
/** tenantIdSchema's rule without zod, for paths that read a tenant per message. */
export const isTenantId = (id: string): boolean =>
  TENANT_ID_PATTERN.test(id) && id !== "." && id !== "..";
/** The tenant of what names none: the pre-tenant API paths, and records and tasks before them. */
export const DEFAULT_TENANT_ID = "default";

export const endpointIdSchema = z
  .string()
  .regex(ENDPOINT_ID_PATTERN, "an endpoint id: ep_ followed by a ULID");

export const eventIdSchema = z
  .string()
  .regex(
    EVENT_ID_PATTERN,
    "1–128 characters: letters, digits and . _ : ~ -, starting with a letter or digit",
  );

export const eventTypeSchema = z
  .string()
  .regex(
    EVENT_TYPE_PATTERN,
    "1–128 characters: letters, digits and . _ : -, starting with a letter or digit",
  );

export function taskIdFor(eventId: string, endpointId: string): string {
  return `${eventId}:${endpointId}`;
}
