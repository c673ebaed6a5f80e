import {
  controlEndpoints,
  type HooklineNames,
  type InstanceStatus,
  instanceStatusSchema,
  kvStreamName,
} from "@hookline/contracts";
import {
  type ControlClient,
  HOOKLINE_SERVICES,
  type HooklineService,
  type InstanceAnswer,
} from "@hookline/kit";
import type { JetStreamManager } from "@nats-io/jetstream";
import { readStreamStates, type StreamState } from "./stream-states";

/** One instance as system health shows it: its status, or why it gave none. */
export type InstanceHealth =
  | ({ answered: true } & InstanceStatus)
  | { answered: false; instanceId: string; version: string; ready: false; error: string };

export interface ServiceHealth {
  service: HooklineService;
  /** At least one instance answered ready. */
  ready: boolean;
  instances: InstanceHealth[];
}

export interface SystemHealthReport {
  ready: boolean;
  checkedAt: string;
  services: ServiceHealth[];
  streams: StreamState[];
  /** What is not ready, one phrase each: empty when ready. */
  notReady: string[];
}

export type SystemHealthOutcome =
  | { outcome: "read"; report: SystemHealthReport }
  | { outcome: "unavailable"; error: unknown };

export interface SystemHealthReader {
  read(): Promise<SystemHealthOutcome>;
}

/** An instance's status answer, or what went wrong with it. */
export function instanceHealth(answer: InstanceAnswer): InstanceHealth {
  const { instanceId, version } = answer;
  const failed = (error: string): InstanceHealth => ({
    answered: false,
    instanceId,
    version,
    ready: false,
    error,
  });
  if (answer.outcome === "refused") return failed(`refused: ${answer.description}`);
  if (answer.outcome === "no_answer") return failed(answer.reason);
  const parsed = instanceStatusSchema.safeParse(answer.body);
  if (!parsed.success) return failed("unreadable");
  return { answered: true, ...parsed.data };
}

/**
 * Ready when every service has at least one ready instance and every stream exists. A service
 * with several instances and one of them not ready is still served: that instance is listed,
 * not counted against the whole.
 */
export function systemVerdict(
  services: readonly ServiceHealth[],
  streams: readonly StreamState[],
): string[] {
  const notReady: string[] = [];
  for (const { service, instances, ready } of services) {
    if (instances.length === 0) notReady.push(`${service}: no instance answered discovery`);
    else if (!ready) notReady.push(`${service}: no ready instance (${instances.length} seen)`);
  }
  for (const stream of streams) {
    if (!stream.exists) notReady.push(`stream ${stream.name}: missing`);
  }
  return notReady;
}

export interface SystemHealthDeps {
  control: Pick<ControlClient, "askEvery">;
  jsm: JetStreamManager;
  names: HooklineNames;
  now?: () => number;
}

/** Every service instance found over NATS, with its status, and the state of every stream. */
export function createSystemHealthReader(deps: SystemHealthDeps): SystemHealthReader {
  const { names } = deps;
  const now = deps.now ?? Date.now;
  const streams = [
    ...Object.values(names.streams),
    kvStreamName(names.kv.endpoints),
    kvStreamName(names.kv.tenants),
  ];
  return {
    async read() {
      const [asked, streamStates] = await Promise.all([
        Promise.all(
          HOOKLINE_SERVICES.map((service) =>
            deps.control.askEvery(service, controlEndpoints.status),
          ),
        ),
        readStreamStates(deps.jsm, streams),
      ]);
      if (streamStates.outcome === "unavailable") return streamStates;
      const services: ServiceHealth[] = [];
      for (const [index, service] of HOOKLINE_SERVICES.entries()) {
        const answers = asked[index];
        if (answers === undefined || answers.outcome === "unavailable") {
          return { outcome: "unavailable", error: answers?.error };
        }
        const instances = answers.answers.map(instanceHealth);
        services.push({ service, ready: instances.some((i) => i.ready), instances });
      }
      const notReady = systemVerdict(services, streamStates.streams);
      return {
        outcome: "read",
        report: {
          ready: notReady.length === 0,
          checkedAt: new Date(now()).toISOString(),
          services,
          streams: streamStates.streams,
          notReady,
        },
      };
    },
  };
}
