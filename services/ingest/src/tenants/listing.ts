import { DEFAULT_TENANT_ID, type TenantRecord, tenantIdSchema } from "@hookline/contracts";
import { encodeCursor } from "../endpoints/listing";
import { IMPLICIT_DEFAULT_TENANT } from "./registry";
import type { TenantView } from "./tenant-view";

export type TenantPage =
  | { outcome: "page"; tenants: TenantRecord[]; nextCursor: string | null }
  | { outcome: "invalid_cursor" };

function decodeTenantCursor(cursor: string): string | undefined {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!tenantIdSchema.safeParse(id).success || encodeCursor(id) !== cursor) return undefined;
  return id;
}

/** The tenant as the API shows it: the default tenant exists even with no stored record. */
export function tenantRecord(
  view: Pick<TenantView, "get">,
  tenantId: string,
): TenantRecord | undefined {
  const stored = view.get(tenantId)?.record;
  if (stored !== undefined || tenantId !== DEFAULT_TENANT_ID) return stored;
  return IMPLICIT_DEFAULT_TENANT;
}

/** A page in id order (byte order of the ids), the default tenant included. */
export function listTenants(
  view: Pick<TenantView, "all" | "get">,
  page: { cursor?: string | undefined; limit: number },
): TenantPage {
  let after: string | undefined;
  if (page.cursor !== undefined) {
    after = decodeTenantCursor(page.cursor);
    if (after === undefined) return { outcome: "invalid_cursor" };
  }
  const records = view.all().map((cached) => cached.record);
  if (view.get(DEFAULT_TENANT_ID) === undefined) records.push(IMPLICIT_DEFAULT_TENANT);
  const sorted = records
    .filter((record) => after === undefined || record.id > after)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const tenants = sorted.slice(0, page.limit);
  const last = tenants.at(-1);
  const nextCursor =
    sorted.length > page.limit && last !== undefined ? encodeCursor(last.id) : null;
  return { outcome: "page", tenants, nextCursor };
}
