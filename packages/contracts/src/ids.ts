import { z } from "zod";

/** Endpoint ids are subject tokens, so they carry no dots, wildcards or spaces. */
export const ENDPOINT_ID_PATTERN = /^ep_[0-9A-HJKMNP-TV-Z]{26}$/;
/** Event ids travel in headers and in Nats-Msg-Id, so they are printable and bounded. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/;
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

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
