import { z } from "zod";
import { tenantIdSchema } from "./ids";

export const MAX_TENANT_NAME_LENGTH = 200;
export const MAX_TENANT_METADATA_KEYS = 50;
export const MAX_TENANT_METADATA_KEY_LENGTH = 64;
export const MAX_TENANT_METADATA_VALUE_LENGTH = 512;

export const tenantNameSchema = z.string().min(1).max(MAX_TENANT_NAME_LENGTH);

/** Free-form labels for the caller (its own customer id, a plan); bounded so records stay small. */
export const tenantMetadataSchema = z
  .record(
    z.string().min(1).max(MAX_TENANT_METADATA_KEY_LENGTH),
    z.string().max(MAX_TENANT_METADATA_VALUE_LENGTH),
  )
  .refine((metadata) => Object.keys(metadata).length <= MAX_TENANT_METADATA_KEYS, {
    message: `at most ${MAX_TENANT_METADATA_KEYS} keys`,
  });

/** A tenant as stored in the tenants bucket (ingest's), under tenantKvKey(id). */
export const tenantRecordSchema = z.object({
  id: tenantIdSchema,
  name: tenantNameSchema,
  metadata: tenantMetadataSchema.optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** Set when its deletion began: no new endpoints or events; a retried delete finishes it. */
  deleting: z.boolean().optional(),
});
export type TenantRecord = z.infer<typeof tenantRecordSchema>;

/**
 * The bucket key of a tenant: base64url of the UTF-8 id. Ids may hold "." in any position, and
 * KV keys are subject tokens (no empty tokens, no leading or trailing "."); base64url has no ".".
 */
export function tenantKvKey(tenantId: string): string {
  return Buffer.from(tenantId, "utf8").toString("base64url");
}
