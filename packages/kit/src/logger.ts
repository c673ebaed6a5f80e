import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/** Paths pino censors wherever they appear in a log object. */
export const redactedPaths = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "secret",
  "*.secret",
  "secrets",
  "*.secrets",
  "token",
  "*.token",
  "tokens",
  "*.tokens",
];

export interface LoggerOptions {
  service: string;
  level: string;
  pretty: boolean;
  /** Tests pass a stream to read what was logged. */
  destination?: NodeJS.WritableStream;
}

/**
 * JSON lines with a `service` field. Writes go through an asynchronous destination so a log
 * line never blocks the event loop on the hot path; `flushLogger` runs at shutdown.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { service: options.service };
  const redact = { paths: redactedPaths, censor: "[redacted]" };
  if (options.destination) {
    return pino({ level: options.level, base, redact }, options.destination);
  }
  if (options.pretty) {
    return pino({
      level: options.level,
      base,
      redact,
      transport: {
        target: "pino-pretty",
        // One line per entry; the dev runner already prefixes each line with the service.
        options: { ignore: "pid,hostname,service", singleLine: true, colorize: true },
      },
    });
  }
  return pino({ level: options.level, base, redact }, pino.destination({ sync: false }));
}
