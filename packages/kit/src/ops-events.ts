import {
  encodeOpsEvent,
  type HooklineNames,
  OPS_EVENT_KINDS,
  type OpsEventKind,
  type OpsEventMessage,
} from "@hookline/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { z } from "zod";

/** Publishes operational events to the OPS stream, where ingest picks them up. */
export interface OpsEventEmitter {
  /** True once stored (or already stored: the same id within the duplicate window). */
  emit(event: OpsEventMessage): Promise<boolean>;
}

export interface OpsEventEmitterOptions {
  js: JetStreamClient;
  names: HooklineNames;
  logger: Logger;
  /** Kinds to emit; others are dropped here (OPS_EVENTS_* env turns each off). */
  kinds?: ReadonlySet<OpsEventKind>;
  timeoutMs?: number;
}

/**
 * Emits with the event id as Nats-Msg-Id, so several instances stating the same fact store it
 * once. A failure (NATS down, stream full) is logged and reported, never thrown: an operational
 * event must not fail the work that noticed it.
 */
export function createOpsEventEmitter(options: OpsEventEmitterOptions): OpsEventEmitter {
  const { js, names, logger, kinds } = options;
  const timeout = options.timeoutMs ?? 5_000;
  return {
    async emit(event) {
      if (kinds !== undefined && !kinds.has(event.kind)) return false;
      try {
        await js.publish(names.subjects.ops(event.kind), encodeOpsEvent(event), {
          msgID: event.id,
          timeout,
        });
        return true;
      } catch (error) {
        logger.warn({ err: error, kind: event.kind, id: event.id }, "operational event not stored");
        return false;
      }
    },
  };
}

/** An emitter that keeps what it is given: for tests of the services' emitters. */
export function recordingOpsEventEmitter(): OpsEventEmitter & { events: OpsEventMessage[] } {
  const events: OpsEventMessage[] = [];
  return {
    events,
    emit: async (event) => {
      events.push(event);
      return true;
    },
  };
}

/**
 * OPS_EVENTS: the operational events a service emits, as kinds separated by commas (such as
 * `endpoint.disabled,breaker.opened`), `all` (the default) or `none`.
 */
export const opsEventKindsEnv = z
  .string()
  .default("all")
  .transform((text, ctx): ReadonlySet<OpsEventKind> => {
    const trimmed = text.trim();
    if (trimmed === "all") return new Set(OPS_EVENT_KINDS);
    if (trimmed === "none" || trimmed === "") return new Set();
    const kinds = new Set<OpsEventKind>();
    for (const part of trimmed.split(",")) {
      const kind = part.trim();
      if (!(OPS_EVENT_KINDS as readonly string[]).includes(kind)) {
        ctx.addIssue({
          code: "custom",
          message: `"${kind}" is not an operational event: all, none, or some of ${OPS_EVENT_KINDS.join(", ")}`,
        });
        return z.NEVER;
      }
      kinds.add(kind as OpsEventKind);
    }
    return kinds;
  });
