import type { EndpointRecord } from "@hookline/contracts";
import { describe, expect, it } from "vitest";
import {
  generateSecret,
  MAX_SECRETS,
  ROTATION_GRACE_MS,
  rotatedSecrets,
  secretKeyBytes,
  withoutExpiredSecrets,
} from "./secrets";

const t0 = Date.parse("2025-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
const record = (secrets: EndpointRecord["secrets"]): EndpointRecord => ({
  id: "ep_01JD0000000000000000000000",
  url: "https://example.com",
  eventTypes: [],
  secrets,
  disabled: false,
  createdAt: iso(t0),
  updatedAt: iso(t0),
});

describe("secrets", () => {
  it("generates whsec_ with 24 random bytes", () => {
    const secret = generateSecret();
    expect(secretKeyBytes(secret)).toBe(24);
    expect(generateSecret()).not.toBe(secret);
  });

  it.each(["whsec_", "whsec_abc", "wh_c2VjcmV0c2VjcmV0", "whsec_not base64!!"])(
    "does not read %j as a secret",
    (text) => expect(secretKeyBytes(text)).toBeUndefined(),
  );

  it("drops expired secrets only", () => {
    const kept = [
      { value: "whsec_a", createdAt: iso(t0) },
      { value: "whsec_b", createdAt: iso(t0), expiresAt: iso(t0 + 1) },
    ];
    const expired = { value: "whsec_c", createdAt: iso(t0), expiresAt: iso(t0) };
    expect(withoutExpiredSecrets([...kept, expired], t0)).toEqual(kept);
  });

  it("rotation puts the new secret first and lets the old ones expire after the grace", () => {
    const rotated = rotatedSecrets(
      record([
        { value: "whsec_old", createdAt: iso(t0) },
        { value: "whsec_older", createdAt: iso(t0), expiresAt: iso(t0 + 1_000) },
        { value: "whsec_gone", createdAt: iso(t0), expiresAt: iso(t0 - 1) },
      ]),
      "whsec_new",
      t0,
    );
    expect(rotated).toEqual([
      { value: "whsec_new", createdAt: iso(t0) },
      { value: "whsec_old", createdAt: iso(t0), expiresAt: iso(t0 + ROTATION_GRACE_MS) },
      { value: "whsec_older", createdAt: iso(t0), expiresAt: iso(t0 + 1_000) },
    ]);
  });

  it(`keeps at most ${MAX_SECRETS} secrets however often it rotates`, () => {
    let current = record([{ value: "whsec_0", createdAt: iso(t0) }]);
    for (let n = 1; n <= 15; n++) {
      current = { ...current, secrets: rotatedSecrets(current, `whsec_${n}`, t0 + n) };
    }
    expect(current.secrets).toHaveLength(MAX_SECRETS);
    expect(current.secrets[0]?.value).toBe("whsec_15");
  });
});
