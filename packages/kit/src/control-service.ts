import {
  type ControlEndpoint,
  controlEndpoints,
  controlGroup,
  controlServiceName,
  type InstanceStatus,
} from "@hookline/contracts";
import { type ServiceMsg, Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { type ReadinessChecks, readinessReport } from "./http";
import type { HooklineService } from "./nats-permissions";

/** A control request's answer: JSON, or a service error (`Nats-Service-Error-Code`). */
export type ControlReply =
  | { ok: true; body: unknown }
  | { ok: false; code: 400 | 404 | 500; description: string };

export type ControlHandler = (request: Uint8Array) => ControlReply | Promise<ControlReply>;

export interface ControlServiceOptions {
  nc: NatsConnection;
  /** HOOKLINE_PREFIX: two deployments on one server register under different names. */
  prefix: string;
  service: HooklineService;
  /** The service's package version (semver). */
  version: string;
  /** The same checks as the service's /readyz. */
  readiness: ReadinessChecks;
  logger: Logger;
  /** Wall-clock milliseconds; default Date.now. */
  now?: () => number;
}

export interface ControlService {
  /** This instance's id, as discovery ($SRV.PING) reports it. */
  readonly instanceId: string;
  /**
   * Answers requests on `<prefix>.control.<service>.<instanceId>.<endpoint>`; resolves once the
   * server has the subscription.
   */
  handle(endpoint: ControlEndpoint, handler: ControlHandler): Promise<void>;
  /** Stops answering (first step of shutdown: the instance stops being counted). */
  stop(): Promise<void>;
}

/**
 * Registers this process as a NATS micro service, `<prefix>-<service>`, so operators' tools
 * (ingest's /v1/system/health, `nats micro ls`) find every instance. Its endpoints live under a
 * group holding the instance id: each instance gets its own subjects, and a caller asks each
 * instance it found rather than whichever one a queue group picks. `status` answers readiness
 * and uptime.
 */
export async function startControlService(options: ControlServiceOptions): Promise<ControlService> {
  const { prefix, service, version, logger } = options;
  const now = options.now ?? Date.now;
  // The services library is built on its own nats-core; it uses only the connection's public API.
  const svcm = new Svcm(options.nc as unknown as ConstructorParameters<typeof Svcm>[0]);
  const micro = await svcm.add({
    name: controlServiceName(prefix, service),
    version,
    description: `Hookline ${service}`,
    metadata: { service, prefix },
  });
  const group = micro.addGroup(controlGroup(prefix, service, micro.info().id));
  const startedAt = now();

  const handle = (endpoint: ControlEndpoint, handler: ControlHandler): Promise<void> => {
    group.addEndpoint(endpoint, (error: Error | null, msg: ServiceMsg) => {
      if (error !== null) return;
      void Promise.resolve()
        .then(() => handler(msg.data))
        .then(
          (reply) => {
            if (reply.ok) msg.respond(JSON.stringify(reply.body));
            else msg.respondError(reply.code, reply.description);
          },
          (failure: unknown) => {
            logger.error({ err: failure, endpoint }, "control request failed");
            msg.respondError(500, "internal error");
          },
        );
    });
    return options.nc.flush();
  };

  // The server has this subscription once it resolves: discovery from now on finds us.
  await handle(controlEndpoints.status, async () => {
    const report = await readinessReport(options.readiness);
    const status: InstanceStatus = {
      service,
      instanceId: micro.info().id,
      version,
      startedAt: new Date(startedAt).toISOString(),
      uptimeSeconds: Math.max(0, (now() - startedAt) / 1_000),
      ready: report.ready,
      checks: report.checks,
    };
    return { ok: true, body: status };
  });

  micro.stopped.then((error) => {
    if (error) logger.warn({ err: error }, "control service stopped");
  });

  return {
    instanceId: micro.info().id,
    handle,
    async stop() {
      if (!micro.isStopped) await micro.stop();
    },
  };
}
