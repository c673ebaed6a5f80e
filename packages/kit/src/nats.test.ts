import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NatsServerHandle, startNatsServer } from "@hookline/testkit";
import { connect, nkeys } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger";
import {
  connectionInbox,
  connectNats,
  drainOrClose,
  type NatsLink,
  withoutCredentials,
} from "./nats";

const logger = createLogger({ service: "test", level: "silent", pretty: false });

describe("withoutCredentials", () => {
  it("keeps addresses and drops user:password for logs", () => {
    expect(withoutCredentials("nats://app:s3cret@nats-0:4222,nats://token@nats-1:4222")).toBe(
      "nats://nats-0:4222,nats://nats-1:4222",
    );
    expect(withoutCredentials("nats://127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});

describe("drainOrClose", () => {
  it("drains a connected link, closes one whose server is gone, and skips the rest", async () => {
    const nats = await startNatsServer();
    try {
      const drained = await connectNats({ url: nats.url, name: "drained", logger });
      await drainOrClose(drained);
      expect(drained.nc.isClosed()).toBe(true);
      await drainOrClose(drained);
      await drainOrClose(undefined);

      const orphaned = await connectNats({ url: nats.url, name: "orphaned", logger });
      await nats.kill();
      await expect.poll(() => orphaned.isConnected(), { timeout: 10_000 }).toBe(false);
      // drain() would reject here ("connection disconnected") and fail the shutdown step.
      await drainOrClose(orphaned);
      expect(orphaned.nc.isClosed()).toBe(true);
    } finally {
      await nats.stop();
    }
  });
});

describe("connectNats against a server with users", () => {
  const tls = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "nats-tls");
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  let dir: string;
  let nats: NatsServerHandle;
  let tlsNats: NatsServerHandle;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hookline-nats-auth-"));
    // Each user may use its own inbox prefix only: a request answered there proves the
    // connection used NATS_INBOX_PREFIX.
    const own = (name: string) => ({
      publish: { allow: [`${name}.>`] },
      subscribe: { allow: [`${name}.>`, `_INBOX_${name}.>`] },
      allow_responses: true,
    });
    await writeFile(
      join(dir, "users.conf"),
      `authorization { users = ${JSON.stringify([
        { user: "app", password: "$APP_PASSWORD", permissions: own("app") },
        { nkey: user.getPublicKey(), permissions: own("keyed") },
      ]).replace('"$APP_PASSWORD"', "$APP_PASSWORD")} }\n`,
    );
    await writeFile(join(dir, "seed"), `${seed}\n`);
    await writeFile(
      join(dir, "tls.conf"),
      [
        "tls {",
        `  cert_file: "${join(tls, "server-cert.pem")}"`,
        `  key_file: "${join(tls, "server-key.pem")}"`,
        `  ca_file: "${join(tls, "ca.pem")}"`,
        "  verify: true",
        "}",
        `authorization { token: $APP_TOKEN }`,
        "",
      ].join("\n"),
    );
    [nats, tlsNats] = await Promise.all([
      startNatsServer({
        configFile: join(dir, "users.conf"),
        env: { APP_PASSWORD: "app-password-1" },
      }),
      startNatsServer({ configFile: join(dir, "tls.conf"), env: { APP_TOKEN: "app-token-1" } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([nats?.stop(), tlsNats?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** Round trip on the user's own subjects; the reply comes to its own inbox prefix. */
  async function echo(link: NatsLink, subject: string): Promise<string> {
    const sub = link.nc.subscribe(subject, {
      callback: (_err, msg) => {
        msg.respond(msg.data);
      },
    });
    try {
      await link.nc.flush();
      const reply = await link.nc.request(subject, "ping", { timeout: 2_000 });
      return `${reply.subject.split(".")[0]}:${reply.string()}`;
    } finally {
      sub.unsubscribe();
    }
  }

  it("logs in with user and password, replies on its own inbox prefix", async () => {
    const link = await connectNats({
      url: nats.url,
      name: "user",
      logger,
      auth: { NATS_USER: "app", NATS_PASSWORD: "app-password-1", NATS_INBOX_PREFIX: "_INBOX_app" },
    });
    try {
      expect(await echo(link, "app.echo")).toBe("_INBOX_app:ping");
      expect(connectionInbox(link.nc)).toMatch(/^_INBOX_app\.\w+$/);
    } finally {
      await drainOrClose(link);
    }
  });

  it("logs in with an nkey seed, given as the value or as a file", async () => {
    for (const NATS_NKEY_SEED of [seed, join(dir, "seed")]) {
      const link = await connectNats({
        url: nats.url,
        name: "keyed",
        logger,
        auth: { NATS_NKEY_SEED, NATS_INBOX_PREFIX: "_INBOX_keyed" },
      });
      try {
        expect(await echo(link, "keyed.echo")).toBe("_INBOX_keyed:ping");
      } finally {
        await drainOrClose(link);
      }
    }
  });

  it("is refused with a wrong password, and without credentials", async () => {
    for (const auth of [{ NATS_USER: "app", NATS_PASSWORD: "wrong" }, {}]) {
      await expect(connectNats({ url: nats.url, name: "wrong", logger, auth })).rejects.toThrow(
        /Authorization Violation/,
      );
    }
  });

  it("connects over TLS with the CA, a client certificate and a token", async () => {
    const link = await connectNats({
      url: tlsNats.url,
      name: "tls",
      logger,
      auth: {
        NATS_TOKEN: "app-token-1",
        NATS_TLS_CA: join(tls, "ca.pem"),
        NATS_TLS_CERT: join(tls, "client-cert.pem"),
        NATS_TLS_KEY: join(tls, "client-key.pem"),
      },
    });
    try {
      expect(await echo(link, "tls.echo")).toBe("_INBOX:ping");
    } finally {
      await drainOrClose(link);
    }
    // The server does require the client certificate (verify: true). connectNats would retry
    // forever (NATS may start later), so one plain attempt shows it.
    await expect(
      connect({
        servers: tlsNats.url,
        token: "app-token-1",
        tls: { caFile: join(tls, "ca.pem") },
        maxReconnectAttempts: 0,
        timeout: 2_000,
      }),
    ).rejects.toThrow();
  });

  it("throws a ConfigError naming a file it can't read, before connecting", async () => {
    await expect(
      connectNats({ url: nats.url, name: "x", logger, auth: { NATS_CREDS: join(dir, "none") } }),
    ).rejects.toThrow(/NATS_CREDS: cannot read .*none \(ENOENT\)/);
  });
});
