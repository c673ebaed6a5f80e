export { TEST_ENCRYPTION_KEYS } from "./encryption-keys";
export { freePort, preferredOrFreePort } from "./free-port";
export { LineBuffer } from "./line-buffer";
export type { Exit } from "./managed-process";
export {
  type NatsClusterHandle,
  type NatsClusterNode,
  type StartNatsClusterOptions,
  startNatsCluster,
} from "./nats-cluster";
export {
  type NatsServerHandle,
  natsServerBin,
  type StartNatsServerOptions,
  startNatsServer,
} from "./nats-server";
export { type PostgresHandle, startPostgres } from "./postgres";
/** Embedded even when TEST_DATABASE_URL is set: for tests that pause() and resume() Postgres. */
export {
  type EmbeddedPostgresHandle,
  type EmbeddedPostgresOptions,
  startEmbeddedPostgres,
} from "./postgres-embedded";
export * from "./raw-http";
export {
  type PathStats,
  type ReceivedRequest,
  type Receiver,
  type ReceiverBehaviour,
  type StartReceiverOptions,
  startReceiver,
} from "./receiver";
export { repoRoot } from "./repo-root";
export { runService, type ServiceProcess } from "./service-process";
export {
  type Delivery,
  type Sink,
  type SinkStep,
  type StartSinkOptions,
  startSink,
  type WaitForOptions,
} from "./sink";
export { type Stack, type StackRuntime, type StartStackOptions, startStack } from "./stack";
export { answersOk, canConnect, type PollOptions, pollUntil, sleep } from "./wait";
