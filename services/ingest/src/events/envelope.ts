/**
 * The webhook body in the Standard Webhooks payload shape, serialised once at acceptance. Every
 * task of the event shares these bytes, and nothing downstream parses or re-serialises them.
 */
export function webhookBody(eventType: string, payload: unknown, acceptedAt: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: eventType,
      timestamp: new Date(acceptedAt).toISOString(),
      data: payload,
    }),
    "utf8",
  );
}
