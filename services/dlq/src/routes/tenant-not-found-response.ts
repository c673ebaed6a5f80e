import { PROBLEM_CONTENT_TYPE } from "@hookline/kit";

/** The 404 a tenant-bound token meets when its query names another tenant (registration.ts). */
export const tenantNotFoundResponse = {
  description: "A token bound to a tenant named another tenant (`tenant_not_found`).",
  content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } },
};
