import { randomBytes } from "node:crypto";
import { Client } from "pg";
import type { PostgresHandle } from "./postgres";

/** Creates `hookline_test_<random>` on an existing server; stop() drops it again. */
export async function startExternalPostgres(adminUrl: string): Promise<PostgresHandle> {
  const database = `hookline_test_${randomBytes(6).toString("hex")}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const unsupported = (what: string) => () =>
    Promise.reject(
      new Error(
        `PostgresHandle.${what}() is not supported with TEST_DATABASE_URL (not our server)`,
      ),
    );
  let stopped = false;
  return {
    url: url.toString(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      // FORCE (PG 13+) ends connections a test forgot to close.
      await withClient(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
      );
    },
    pause: unsupported("pause"),
    resume: unsupported("resume"),
  };
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
