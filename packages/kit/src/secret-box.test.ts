import { randomBytes } from "node:crypto";
import { isSealedValue } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "./config";
import {
  checkSecretEncryptionEnv,
  createSecretBox,
  type EncryptionKey,
  parseEncryptionKeys,
  sealedKid,
  secretEncryptionEnvShape,
} from "./secret-box";

const key = (kid: string): EncryptionKey => ({ kid, key: randomBytes(32) });
const context = "hookline:endpoint:ep_01JABCDEFGHJKMNPQRSTVWXYZA:secret";
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** Flips one bit of the byte at `index` of a base64url part. */
function flipped(part: string, index: number): string {
  const bytes = Buffer.from(part, "base64url");
  bytes[index] = (bytes[index] ?? 0) ^ 1;
  return bytes.toString("base64url");
}

describe("createSecretBox", () => {
  const k1 = key("k1");
  const box = createSecretBox([k1]);

  it("seals to enc:v1:<kid>:<iv>:<ciphertext and tag> and opens it again", () => {
    const sealed = box.seal(secret, context);
    expect(sealed).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22,}$/);
    expect(isSealedValue(sealed)).toBe(true);
    expect(sealedKid(sealed)).toBe("k1");
    expect(sealed).not.toContain(secret.slice(6));
    expect(box.open(sealed, context)).toEqual({ outcome: "opened", plaintext: secret, kid: "k1" });
  });

  it("takes a random IV per value", () => {
    expect(box.seal(secret, context)).not.toBe(box.seal(secret, context));
  });

  it("round-trips the empty string, and a 1,024-character header value within the limit", () => {
    expect(box.open(box.seal("", context), context)).toMatchObject({ plaintext: "" });
    const long = "x".repeat(1_024);
    const sealed = box.seal(long, context);
    expect(isSealedValue(sealed)).toBe(true);
    expect(box.open(sealed, context)).toMatchObject({ plaintext: long });
  });

  it("returns a plain value as it is", () => {
    expect(box.open(secret, context)).toEqual({ outcome: "plain", plaintext: secret });
    expect(sealedKid(secret)).toBeUndefined();
  });

  it("names the kid it does not hold", () => {
    const other = createSecretBox([key("k2")]);
    expect(other.open(box.seal(secret, context), context)).toEqual({
      outcome: "unknown_key",
      kid: "k1",
    });
  });

  it("refuses a value sealed under the same kid with another key", () => {
    const impostor = createSecretBox([key("k1")]);
    expect(impostor.open(box.seal(secret, context), context)).toEqual({
      outcome: "forged",
      kid: "k1",
    });
  });

  it("refuses a tampered ciphertext, tag or IV, and another context (AAD)", () => {
    const sealed = box.seal(secret, context);
    const [, , kid, iv = "", body = ""] = sealed.split(":");
    const tagStart = Buffer.from(body, "base64url").length - 16;
    const tampered = [
      `enc:v1:${kid}:${iv}:${flipped(body, 0)}`,
      `enc:v1:${kid}:${iv}:${flipped(body, tagStart + 3)}`,
      `enc:v1:${kid}:${flipped(iv, 5)}:${body}`,
    ];
    for (const value of tampered) {
      expect(isSealedValue(value)).toBe(true);
      expect(box.open(value, context)).toEqual({ outcome: "forged", kid: "k1" });
    }
    expect(box.open(sealed, `${context}x`)).toEqual({ outcome: "forged", kid: "k1" });
    expect(box.open(sealed, context.replace("secret", "header:X-A"))).toMatchObject({
      outcome: "forged",
    });
  });

  it("rotates: the first key seals, every key opens", () => {
    const k2 = key("k2");
    const before = box.seal(secret, context);
    const rotated = createSecretBox([k2, k1]);
    expect(rotated.sealingKid).toBe("k2");
    expect(rotated.kids).toEqual(["k2", "k1"]);
    expect(rotated.open(before, context)).toEqual({
      outcome: "opened",
      plaintext: secret,
      kid: "k1",
    });
    const after = rotated.seal(secret, context);
    expect(sealedKid(after)).toBe("k2");
    expect(box.open(after, context)).toEqual({ outcome: "unknown_key", kid: "k2" });
  });
});

describe("parseEncryptionKeys", () => {
  const raw = randomBytes(32);

  it("takes kid:base64key pairs, in standard or URL-safe base64", () => {
    const parsed = parseEncryptionKeys(
      `k2:${raw.toString("base64")}, old_1-a:${raw.toString("base64url")}`,
    );
    expect(parsed).toEqual({
      outcome: "parsed",
      keys: [
        { kid: "k2", key: raw },
        { kid: "old_1-a", key: raw },
      ],
    });
  });

  it.each([
    ["", "entry 1 is empty"],
    [`k1:${raw.toString("base64")},`, "entry 2 is empty"],
    [raw.toString("base64"), "entry 1: expected kid:base64key"],
    [`:${raw.toString("base64")}`, "entry 1: expected kid:base64key"],
    [`k.1:${raw.toString("base64")}`, "entry 1: expected kid:base64key"],
    [`${"k".repeat(33)}:${raw.toString("base64")}`, "entry 1: expected kid:base64key"],
    [`k1:${randomBytes(16).toString("base64")}`, 'the key of "k1" must be 32 bytes'],
    [`k1:${randomBytes(33).toString("base64")}`, 'the key of "k1" must be 32 bytes'],
    [`k1:${raw.toString("hex")}`, 'the key of "k1" must be 32 bytes'],
    [`k1:${raw.toString("base64")}!`, 'the key of "k1" must be 32 bytes'],
    [`k1:${raw.toString("base64")},k1:${raw.toString("base64")}`, '"k1" is given twice'],
  ])("refuses %j", (text, message) => {
    const parsed = parseEncryptionKeys(text);
    expect(parsed.outcome).toBe("invalid");
    if (parsed.outcome === "invalid") expect(parsed.message).toContain(message);
  });
});

describe("secretEncryptionEnvShape", () => {
  const raw = randomBytes(32).toString("base64");

  it("names HOOKLINE_ENCRYPTION_KEYS without echoing key material", () => {
    const bad = `k1:${randomBytes(20).toString("base64")}`;
    let error: unknown;
    try {
      parseEnv(secretEncryptionEnvShape, { HOOKLINE_ENCRYPTION_KEYS: bad });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain("HOOKLINE_ENCRYPTION_KEYS");
    expect(message).not.toContain(bad.slice(3));
  });

  it("requires the keys unless plaintext is allowed explicitly", () => {
    const none = parseEnv(secretEncryptionEnvShape, {});
    expect(() => checkSecretEncryptionEnv(none)).toThrow(/HOOKLINE_ENCRYPTION_KEYS is required/);
    const plaintext = parseEnv(secretEncryptionEnvShape, {
      HOOKLINE_ALLOW_PLAINTEXT_SECRETS: "true",
    });
    expect(() => checkSecretEncryptionEnv(plaintext)).not.toThrow();
    const keyed = parseEnv(secretEncryptionEnvShape, { HOOKLINE_ENCRYPTION_KEYS: `k1:${raw}` });
    expect(() => checkSecretEncryptionEnv(keyed)).not.toThrow();
    expect(keyed.HOOKLINE_ENCRYPTION_KEYS?.map((k) => k.kid)).toEqual(["k1"]);
  });
});
