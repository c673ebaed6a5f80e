import type { Logger } from "pino";

export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * On SIGTERM or SIGINT, runs the steps in order (stop pulling, finish in-flight work, drain NATS,
 * close HTTP), then exits 0. Past the deadline it exits anyway: unacked work is redelivered.
 */
export function installGracefulShutdown(options: {
  logger: Logger;
  timeoutMs: number;
  steps: ShutdownStep[];
  exit?: (code: number) => void;
}): () => Promise<void> {
  const { logger, steps } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started: Promise<void> | undefined;

  const shutdown = () => {
    started ??= (async () => {
      logger.info("shutting down");
      const deadline = setTimeout(() => {
        logger.warn(
          { timeoutMs: options.timeoutMs },
          "shutdown deadline passed; unacked work will be redelivered",
        );
        logger.flush();
        exit(0);
      }, options.timeoutMs);
      deadline.unref();
      let code = 0;
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          code = 1;
          logger.error({ err: error, step: step.name }, "shutdown step failed");
        }
      }
      clearTimeout(deadline);
      logger.info("stopped");
      logger.flush();
      exit(code);
    })();
    return started;
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  return shutdown;
}
