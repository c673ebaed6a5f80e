/**
 * HOOKLINE_ENCRYPTION_KEYS for tests: startStack and runService give it to ingest and delivery
 * (the services that hold secrets) unless the test sets its own. Public, for tests only.
 */
export const TEST_ENCRYPTION_KEYS = `test:${Buffer.alloc(32, "hookline-test-key").toString("base64")}`;

/** Services that seal or open endpoint secrets; the classifier and the dlq never get the keys. */
export const SERVICES_WITH_SECRETS: ReadonlySet<string> = new Set(["ingest", "delivery"]);

/** The env defaults of one service: the test key for ingest and delivery, nothing for others. */
export function encryptionEnvFor(service: string): Record<string, string> {
  return SERVICES_WITH_SECRETS.has(service)
    ? { HOOKLINE_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS }
    : {};
}

/** Not taken from the test's own environment: a developer's keys must not reach test services. */
export const ENCRYPTION_ENV_NAMES = [
  "HOOKLINE_ENCRYPTION_KEYS",
  "HOOKLINE_ALLOW_PLAINTEXT_SECRETS",
];
