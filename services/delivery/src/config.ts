import { SYSTEM_TENANT_ID, tenantIdSchema } from "@hookline/contracts";
import {
  booleanEnv,
  commonEnvShape,
  durationEnv,
  endpointPortEnvShape,
  opsEventKindsEnv,
  portEnv,
  secretEncryptionEnvShape,
} from "@hookline/kit";
import { z } from "zod";

export const deliveryEnvShape = {
  ...commonEnvShape,
  /** Checked again at send time: stored records may predate the rule or come from other tools. */
  ...endpointPortEnvShape,
  PORT: portEnv.default(8081),
  /** Tasks handled at once, both lanes together. */
  DELIVERY_MAX_IN_FLIGHT: z.coerce.number().int().min(2).max(100_000).default(256),
  /** The retry lane's share of DELIVERY_MAX_IN_FLIGHT; the fresh lane gets the rest. */
  DELIVERY_RETRY_SHARE: z.coerce.number().gt(0).lt(1).default(0.25),
  DELIVERY_CONNECT_TIMEOUT: durationEnv.default(5_000),
  /** Lets webhooks reach private and loopback addresses: tests and the dev runner only. */
  DELIVERY_ALLOW_PRIVATE_NETWORKS: booleanEnv.default(false),
  /** Endpoints whose circuit breaker and rate limiter are kept (LRU). */
  DELIVERY_BREAKER_CACHE_SIZE: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  /** A breaker opens when more than this percentage of requests in the window failed (100: never). */
  DELIVERY_BREAKER_ERROR_THRESHOLD: z.coerce.number().gt(0).max(100).default(50),
  /** Requests the window must hold before a breaker may open. */
  DELIVERY_BREAKER_VOLUME_THRESHOLD: z.coerce.number().int().min(1).max(1_000_000).default(10),
  /** How long a breaker stays open before one probe is let through. */
  DELIVERY_BREAKER_RESET_TIMEOUT: durationEnv
    .pipe(z.number().min(1, "at least 1ms"))
    .default(30_000),
  /** An endpoint's tasks sent at once per instance, unless the endpoint sets maxInFlight. */
  DELIVERY_ENDPOINT_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1_000).default(64),
  /** An endpoint's tasks waiting in an instance before more move to its own consumer. */
  DELIVERY_ENDPOINT_MAX_HELD: z.coerce.number().int().min(0).max(100_000).default(1_000),
  /** Tasks of all endpoints waiting in an instance before more are moved. */
  DELIVERY_MAX_HELD: z.coerce.number().int().min(0).max(1_000_000).default(2_000),
  /** How long a task waits for an endpoint the cache doesn't know yet (a lagging KV watch). */
  DELIVERY_ENDPOINT_LOOKUP_TIMEOUT: durationEnv.default(5_000),
  /** The rolling window the failure rate is taken over. */
  DELIVERY_BREAKER_WINDOW: durationEnv.pipe(z.number().min(100, "at least 100ms")).default(10_000),
  /** The operational events delivery emits: breaker.opened and breaker.closed (kit's OPS_EVENTS). */
  OPS_EVENTS: opsEventKindsEnv,
  /** The operational events' tenant: its own endpoints' breakers are left out. */
  OPS_EVENTS_TENANT: tenantIdSchema.default(SYSTEM_TENANT_ID),
  /** Delivery opens sealed signing secrets and header values; checked by main.ts. */
  ...secretEncryptionEnvShape,
};
