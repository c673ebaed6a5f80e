import { z } from "@hono/zod-openapi";
import {
  MAX_TENANT_METADATA_KEY_LENGTH,
  MAX_TENANT_METADATA_KEYS,
  MAX_TENANT_METADATA_VALUE_LENGTH,
  type TenantRecord,
  tenantIdSchema,
  tenantMetadataSchema,
  tenantNameSchema,
} from "@hookline/contracts";

const metadataDescription =
  `Free-form string labels: at most ${MAX_TENANT_METADATA_KEYS} keys of up to ` +
  `${MAX_TENANT_METADATA_KEY_LENGTH} characters, values up to ${MAX_TENANT_METADATA_VALUE_LENGTH}`;

/** The tenant as the API shows it: absent optionals as null. */
export const tenantSchema = z
  .object({
    id: z.string().openapi({ example: "acme" }),
    name: z.string().openapi({ example: "Acme Corp" }),
    metadata: z
      .record(z.string(), z.string())
      .nullable()
      .openapi({ example: { plan: "enterprise" } }),
    deleting: z.boolean().openapi({
      example: false,
      description: "Its deletion began and was cut short; DELETE it again to finish",
    }),
    createdAt: z.string().openapi({ example: "2025-01-01T12:00:00.000Z" }),
    updatedAt: z.string().openapi({ example: "2025-01-01T12:00:00.000Z" }),
  })
  .openapi("Tenant");
export type PublicTenant = z.infer<typeof tenantSchema>;

export function publicTenant(tenant: TenantRecord): PublicTenant {
  return {
    id: tenant.id,
    name: tenant.name,
    metadata: tenant.metadata ?? null,
    deleting: tenant.deleting === true,
    createdAt: tenant.createdAt,
    updatedAt: tenant.updatedAt,
  };
}

export const createTenantBodySchema = z
  .strictObject({
    id: tenantIdSchema.optional().meta({
      example: "acme",
      description:
        "Your own id for the customer: 1–64 letters, digits and _ . - (not . or ..). " +
        "Generated (`ten_` + ULID) when absent.",
    }),
    name: tenantNameSchema.meta({ example: "Acme Corp" }),
    metadata: tenantMetadataSchema.optional().meta({ description: metadataDescription }),
  })
  .openapi("CreateTenant");

export const updateTenantBodySchema = z
  .strictObject({
    name: tenantNameSchema.optional().meta({ example: "Acme Corporation" }),
    metadata: tenantMetadataSchema
      .nullable()
      .optional()
      .meta({ description: `${metadataDescription}. Replaces the whole map; null clears it.` }),
  })
  .openapi("UpdateTenant", { description: "Fields left out stay as they are" });

export const deletedTenantSchema = z
  .object({
    id: z.string().openapi({ example: "acme" }),
    endpointsDeleted: z.number().int().openapi({
      example: 3,
      description: "Endpoints this call deleted (a retried deletion counts only its own)",
    }),
  })
  .openapi("DeletedTenant");
