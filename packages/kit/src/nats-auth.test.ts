import { nkeys } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ConfigError, commonEnvShape, parseEnv } from "./config";
import { type NatsAuthFiles, natsAuthOptions, natsAuthProblems } from "./nats-auth";

const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
const creds = [
  "-----BEGIN NATS USER JWT-----",
  "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.sig",
  "------END NATS USER JWT------",
  "",
  "-----BEGIN USER NKEY SEED-----",
  seed,
  "------END USER NKEY SEED------",
  "",
].join("\n");

/** Files in memory; any other path is missing. */
function memoryFiles(contents: Record<string, string>): NatsAuthFiles & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    checkReadable: (path) => {
      if (contents[path] === undefined) {
        throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      }
    },
    read: (path) => {
      reads.push(path);
      return new TextEncoder().encode(contents[path] ?? "");
    },
  };
}

const noFiles = memoryFiles({});

describe("natsAuthProblems", () => {
  it("accepts nothing at all, and each way of authenticating alone", () => {
    expect(natsAuthProblems({})).toEqual([]);
    expect(natsAuthProblems({ NATS_USER: "ingest", NATS_PASSWORD: "pw" })).toEqual([]);
    expect(natsAuthProblems({ NATS_TOKEN: "t" })).toEqual([]);
    expect(natsAuthProblems({ NATS_CREDS: "/c", NATS_TLS_CA: "/ca" })).toEqual([]);
    expect(
      natsAuthProblems({ NATS_NKEY_SEED: seed, NATS_TLS_CERT: "/c", NATS_TLS_KEY: "/k" }),
    ).toEqual([]);
  });

  it("names the missing half of a pair", () => {
    expect(natsAuthProblems({ NATS_USER: "ingest" })).toEqual([
      "NATS_PASSWORD is required with NATS_USER",
    ]);
    expect(natsAuthProblems({ NATS_PASSWORD: "pw" })).toEqual([
      "NATS_USER is required with NATS_PASSWORD",
    ]);
    expect(natsAuthProblems({ NATS_TLS_CERT: "/c" })).toEqual([
      "NATS_TLS_KEY is required with NATS_TLS_CERT",
    ]);
    expect(natsAuthProblems({ NATS_TLS_KEY: "/k" })).toEqual([
      "NATS_TLS_CERT is required with NATS_TLS_KEY",
    ]);
  });

  it("refuses two ways of authenticating at once, naming both", () => {
    expect(natsAuthProblems({ NATS_CREDS: "/c", NATS_USER: "u", NATS_PASSWORD: "p" })).toEqual([
      "set one way of authenticating to NATS, not NATS_CREDS and NATS_USER/NATS_PASSWORD",
    ]);
    expect(natsAuthProblems({ NATS_NKEY_SEED: seed, NATS_TOKEN: "t" })).toEqual([
      "set one way of authenticating to NATS, not NATS_NKEY_SEED and NATS_TOKEN",
    ]);
  });

  it("is what parseEnv reports for the common shape, and never echoes a secret", () => {
    const parse = (env: Record<string, string>) => {
      try {
        parseEnv(commonEnvShape, env);
        return [];
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.problems;
      }
    };
    expect(parse({ NATS_USER: "delivery" })).toEqual(["NATS_PASSWORD is required with NATS_USER"]);
    const problems = parse({ NATS_TOKEN: "s3cret-token", NATS_PASSWORD: "s3cret-pw" });
    expect(problems).toEqual([
      "NATS_USER is required with NATS_PASSWORD",
      "set one way of authenticating to NATS, not NATS_USER/NATS_PASSWORD and NATS_TOKEN",
    ]);
    expect(problems.join(" ")).not.toMatch(/s3cret/);
    expect(parse({ NATS_INBOX_PREFIX: "_INBOX.>" })[0]).toMatch(/^NATS_INBOX_PREFIX: /);
    expect(parse({ NATS_INBOX_PREFIX: "_INBOX_delivery" })).toEqual([]);
  });
});

describe("natsAuthOptions", () => {
  it("passes no options without variables", () => {
    expect(natsAuthOptions({}, noFiles)).toEqual({ outcome: "ready", options: {} });
  });

  it("passes user and password, or a token, and the inbox prefix", () => {
    expect(
      natsAuthOptions(
        { NATS_USER: "ingest", NATS_PASSWORD: "pw", NATS_INBOX_PREFIX: "_INBOX_ingest" },
        noFiles,
      ),
    ).toEqual({
      outcome: "ready",
      options: { user: "ingest", pass: "pw", inboxPrefix: "_INBOX_ingest" },
    });
    expect(natsAuthOptions({ NATS_TOKEN: "t0ken" }, noFiles)).toEqual({
      outcome: "ready",
      options: { token: "t0ken" },
    });
  });

  it("signs the server's nonce with a seed given as the value", () => {
    const result = natsAuthOptions({ NATS_NKEY_SEED: seed }, noFiles);
    if (result.outcome !== "ready") throw new Error(result.problems.join("; "));
    const authenticate = result.options.authenticator;
    if (typeof authenticate !== "function") throw new Error("expected one authenticator");
    const auth = authenticate("nonce") as { nkey: string; sig: string };
    const user = nkeys.fromSeed(new TextEncoder().encode(seed));
    expect(auth.nkey).toBe(user.getPublicKey());
    const sig = Uint8Array.from(Buffer.from(auth.sig, "base64url"));
    expect(user.verify(new TextEncoder().encode("nonce"), sig)).toBe(true);
  });

  it("reads a seed file, and a creds file, at each connect", () => {
    const files = memoryFiles({ "/run/seed": `# delivery\n${seed}\n`, "/run/user.creds": creds });
    const fromSeedFile = natsAuthOptions({ NATS_NKEY_SEED: "/run/seed" }, files);
    if (fromSeedFile.outcome !== "ready") throw new Error(fromSeedFile.problems.join("; "));
    const authenticate = fromSeedFile.options.authenticator;
    if (typeof authenticate !== "function") throw new Error("expected one authenticator");
    const before = files.reads.length;
    authenticate("n1");
    authenticate("n2");
    expect(files.reads.length - before).toBe(2);
    expect((authenticate("n3") as { nkey: string }).nkey).toBe(
      nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey(),
    );

    const fromCreds = natsAuthOptions({ NATS_CREDS: "/run/user.creds" }, files);
    if (fromCreds.outcome !== "ready") throw new Error(fromCreds.problems.join("; "));
    const credsAuth = fromCreds.options.authenticator;
    if (typeof credsAuth !== "function") throw new Error("expected one authenticator");
    expect((credsAuth("nonce") as { jwt: string }).jwt).toBe(
      "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.sig",
    );
  });

  it("passes TLS files, for a CA alone or with a client certificate", () => {
    const files = memoryFiles({ "/tls/ca.pem": "ca", "/tls/c.pem": "c", "/tls/k.pem": "k" });
    expect(natsAuthOptions({ NATS_TLS_CA: "/tls/ca.pem" }, files)).toEqual({
      outcome: "ready",
      options: { tls: { caFile: "/tls/ca.pem" } },
    });
    expect(
      natsAuthOptions(
        { NATS_TLS_CA: "/tls/ca.pem", NATS_TLS_CERT: "/tls/c.pem", NATS_TLS_KEY: "/tls/k.pem" },
        files,
      ),
    ).toEqual({
      outcome: "ready",
      options: { tls: { caFile: "/tls/ca.pem", certFile: "/tls/c.pem", keyFile: "/tls/k.pem" } },
    });
  });

  it("names each variable whose file can't be read or holds no seed", () => {
    const files = memoryFiles({ "/run/empty": "\n", "/run/not-creds": "hello" });
    expect(
      natsAuthOptions({ NATS_TLS_CA: "/missing/ca.pem", NATS_NKEY_SEED: "/run/empty" }, files),
    ).toEqual({
      outcome: "invalid",
      problems: [
        "NATS_NKEY_SEED: /run/empty holds no user nkey seed",
        "NATS_TLS_CA: cannot read /missing/ca.pem (ENOENT)",
      ],
    });
    expect(natsAuthOptions({ NATS_CREDS: "/run/not-creds" }, files)).toEqual({
      outcome: "invalid",
      problems: ["NATS_CREDS: /run/not-creds is not a creds file (it holds no user nkey seed)"],
    });
  });

  it("refuses a malformed seed without echoing it, and reports combinations too", () => {
    const bad = `${seed.slice(0, 20)}x`;
    const result = natsAuthOptions({ NATS_NKEY_SEED: bad }, noFiles);
    expect(result).toEqual({
      outcome: "invalid",
      problems: ["NATS_NKEY_SEED: not a user nkey seed (SU followed by 56 characters)"],
    });
    expect(JSON.stringify(result)).not.toContain(bad);
    expect(natsAuthOptions({ NATS_USER: "u" }, noFiles)).toEqual({
      outcome: "invalid",
      problems: ["NATS_PASSWORD is required with NATS_USER"],
    });
  });
});
