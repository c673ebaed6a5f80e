import { type ControlEndpoint, controlServiceName, controlSubject } from "@hookline/contracts";
import { type ServiceIdentity, Svcm } from "@nats-io/services";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import type { HooklineService } from "./nats-permissions";

/** One instance found by discovery. */
export interface DiscoveredInstance {
  instanceId: string;
  version: string;
}

/** What one instance answered, or why it did not. */
export type InstanceAnswer = DiscoveredInstance &
  (
    | { outcome: "answered"; body: unknown }
    | { outcome: "refused"; code: number; description: string }
    | { outcome: "no_answer"; reason: "timeout" | "gone" | "unreadable" | "failed" }
  );

export type Discovery =
  | { outcome: "found"; instances: DiscoveredInstance[] }
  | { outcome: "unavailable"; error: unknown };

export type AskEvery =
  | { outcome: "asked"; answers: InstanceAnswer[] }
  | { outcome: "unavailable"; error: unknown };

export interface ControlClient {
  /** Every instance of the service that answers `$SRV.PING.<prefix>-<service>` in time. */
  discover(service: HooklineService): Promise<Discovery>;
  /** Asks every instance discovery finds, each on its own subject, in parallel. */
  askEvery(
    service: HooklineService,
    endpoint: ControlEndpoint,
    request?: unknown,
  ): Promise<AskEvery>;
}

export interface ControlClientOptions {
  nc: NatsConnection;
  prefix: string;
  /** The longest discovery waits for a first answer, and each instance for its answer. */
  timeoutMs: number;
  /** Discovery ends once no instance has answered for this long (after the first one). */
  discoveryStallMs?: number;
}

/** Answers of one discovery round on one machine arrive within milliseconds of each other. */
export const DEFAULT_DISCOVERY_STALL_MS = 200;

/** Nobody subscribes to the subject; request errors wrap it as their cause. */
function isNoResponders(error: unknown): boolean {
  if (error instanceof errors.NoRespondersError) return true;
  return error instanceof Error && error.cause !== undefined && isNoResponders(error.cause);
}

/**
 * Finds a service's instances with the micro services' discovery (PING), then asks each one on
 * its own subject. A request to every instance through one subject without a queue group would
 * save a round trip, but could not tell which instance stayed silent; discovery first names
 * them, and each then answers, times out or is gone (no responders: it stopped meanwhile).
 */
export function createControlClient(options: ControlClientOptions): ControlClient {
  const { nc, prefix, timeoutMs } = options;
  const stall = options.discoveryStallMs ?? DEFAULT_DISCOVERY_STALL_MS;
  const svcm = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);
  const client = svcm.client({ strategy: "stall", maxWait: timeoutMs, stall });

  const discover = async (service: HooklineService): Promise<Discovery> => {
    const name = controlServiceName(prefix, service);
    const seen = new Map<string, DiscoveredInstance>();
    try {
      const answers = await client.ping(name);
      for await (const identity of answers as AsyncIterable<ServiceIdentity>) {
        // Another deployment's services carry other names; only this name's are asked.
        if (identity.name !== name) continue;
        seen.set(identity.id, { instanceId: identity.id, version: identity.version });
      }
    } catch (error) {
      // Nobody subscribes: no instance runs at all.
      if (!isNoResponders(error)) return { outcome: "unavailable", error };
    }
    const instances = [...seen.values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    return { outcome: "found", instances };
  };

  const ask = async (
    service: HooklineService,
    instance: DiscoveredInstance,
    endpoint: ControlEndpoint,
    payload: string,
  ): Promise<InstanceAnswer> => {
    const subject = controlSubject(prefix, service, instance.instanceId, endpoint);
    try {
      const reply = await nc.request(subject, payload, { timeout: timeoutMs });
      const code = reply.headers?.get("Nats-Service-Error-Code");
      if (code) {
        return {
          ...instance,
          outcome: "refused",
          code: Number(code),
          description: reply.headers?.get("Nats-Service-Error") ?? "",
        };
      }
      try {
        return { ...instance, outcome: "answered", body: reply.json() };
      } catch {
        return { ...instance, outcome: "no_answer", reason: "unreadable" };
      }
    } catch (error) {
      if (isNoResponders(error)) return { ...instance, outcome: "no_answer", reason: "gone" };
      const reason = error instanceof errors.TimeoutError ? "timeout" : "failed";
      return { ...instance, outcome: "no_answer", reason };
    }
  };

  return {
    discover,
    async askEvery(service, endpoint, request) {
      const found = await discover(service);
      if (found.outcome !== "found") return found;
      const payload = request === undefined ? "" : JSON.stringify(request);
      const answers = await Promise.all(
        found.instances.map((instance) => ask(service, instance, endpoint, payload)),
      );
      return { outcome: "asked", answers };
    },
  };
}
