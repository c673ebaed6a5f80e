/** How the OpenAPI descriptions of the paths without a tenant say what they are. */
export const LEGACY_PATH_NOTE =
  "This path acts for the default tenant: it is /v1/tenants/default/… without the tenant, kept " +
  "for clients from before tenants.";
