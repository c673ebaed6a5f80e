import { z } from "zod";

/** Endpoint ids are subject tokens, so they carry no dots, wildcards or spaces. */
export const endpointIdSchema = z
  .string()
  .regex(/^ep_[0-9A-HJKMNP-TV-Z]{26}$/, "an endpoint id: ep_ followed by a ULID");

/** Event ids travel in headers and in Nats-Msg-Id, so they are printable and bounded. */
export const eventIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}$/,
    "1–128 characters: letters, digits and . _ : ~ -, starting with a letter or digit",
  );

export const eventTypeSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    "1–128 characters: letters, digits and . _ : -, starting with a letter or digit",
  );

export function taskIdFor(eventId: string, endpointId: string): string {
  return `${eventId}:${endpointId}`;
}
