import {
  type BreakerReset,
  breakerResetSchema,
  controlEndpoints,
  type EndpointGuardHealth,
  endpointGuardHealthSchema,
} from "@hookline/contracts";
import type { ControlClient, InstanceAnswer } from "@hookline/kit";
import type { z } from "zod";

interface InstanceId {
  instanceId: string;
  version: string;
}

/** What one delivery instance failed to give: it refused, stayed silent or was gone. */
export type InstanceFailure = InstanceId & { answered: false; error: string };

export type BreakerHealthEntry =
  | (InstanceId & { answered: true } & EndpointGuardHealth)
  | InstanceFailure;
export type BreakerResetEntry = (InstanceId & { answered: true } & BreakerReset) | InstanceFailure;

export type BreakerOutcome<T> =
  | { outcome: "answered"; instances: T[] }
  /** No delivery instance answered discovery: nothing to read or reset. */
  | { outcome: "no_instances" }
  | { outcome: "unavailable"; error: unknown };

export interface BreakerOperations {
  /** The endpoint's breaker, limiter and last attempts in every delivery instance. */
  health(endpointId: string): Promise<BreakerOutcome<BreakerHealthEntry>>;
  /** Closes the endpoint's breaker in every delivery instance. */
  reset(endpointId: string): Promise<BreakerOutcome<BreakerResetEntry>>;
}

/** One instance's answer read with the schema both sides share. */
export function readAnswer<T>(
  answer: InstanceAnswer,
  schema: z.ZodType<T>,
): (InstanceId & { answered: true } & T) | InstanceFailure {
  const id = { instanceId: answer.instanceId, version: answer.version };
  if (answer.outcome === "refused") {
    return { ...id, answered: false, error: `refused: ${answer.description}` };
  }
  if (answer.outcome === "no_answer") return { ...id, answered: false, error: answer.reason };
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) return { ...id, answered: false, error: "unreadable" };
  return { ...id, answered: true, ...parsed.data };
}

export function createBreakerOperations(deps: {
  control: Pick<ControlClient, "askEvery">;
}): BreakerOperations {
  const ask = async <T>(
    endpoint: typeof controlEndpoints.breakerHealth | typeof controlEndpoints.breakerReset,
    endpointId: string,
    schema: z.ZodType<T>,
  ): Promise<BreakerOutcome<(InstanceId & { answered: true } & T) | InstanceFailure>> => {
    const asked = await deps.control.askEvery("delivery", endpoint, { endpointId });
    if (asked.outcome === "unavailable") return asked;
    if (asked.answers.length === 0) return { outcome: "no_instances" };
    return {
      outcome: "answered",
      instances: asked.answers.map((answer) => readAnswer(answer, schema)),
    };
  };
  return {
    health: (endpointId) =>
      ask(controlEndpoints.breakerHealth, endpointId, endpointGuardHealthSchema),
    reset: (endpointId) => ask(controlEndpoints.breakerReset, endpointId, breakerResetSchema),
  };
}
