import {
  type BreakerReset,
  breakerRequestSchema,
  controlEndpoints,
  type EndpointGuardHealth,
} from "@hookline/contracts";
import type { ControlReply, ControlService } from "@hookline/kit";
import type { EndpointGuards } from "../guards/endpoint-guards";

type BreakerRequestRead = { ok: true; endpointId: string } | { ok: false; reply: ControlReply };

const decoder = new TextDecoder();

/** The request's endpoint id, or a 400 naming what is wrong with it. */
export function readBreakerRequest(data: Uint8Array): BreakerRequestRead {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch {
    return { ok: false, reply: { ok: false, code: 400, description: "request: not JSON" } };
  }
  const parsed = breakerRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "request";
    const description = `${where}: ${issue?.message ?? "invalid"}`;
    return { ok: false, reply: { ok: false, code: 400, description } };
  }
  return { ok: true, endpointId: parsed.data.endpointId };
}

/**
 * Delivery's answers to operators (ingest's /v1/endpoints/{id}/health and …/breaker/reset):
 * this instance's breaker, limiter and last attempts of one endpoint, and its reset. Both read
 * memory only; an endpoint this instance keeps nothing for reads closed, with no attempts.
 */
export async function answerBreakerControl(
  control: Pick<ControlService, "handle">,
  guards: Pick<EndpointGuards, "health" | "reset">,
): Promise<void> {
  const health = control.handle(controlEndpoints.breakerHealth, (data) => {
    const request = readBreakerRequest(data);
    if (!request.ok) return request.reply;
    const body: EndpointGuardHealth = guards.health(request.endpointId);
    return { ok: true, body };
  });
  const reset = control.handle(controlEndpoints.breakerReset, (data) => {
    const request = readBreakerRequest(data);
    if (!request.ok) return request.reply;
    const { known, previousState } = guards.reset(request.endpointId);
    const body: BreakerReset = { known, previousState, state: "closed" };
    return { ok: true, body };
  });
  await Promise.all([health, reset]);
}
