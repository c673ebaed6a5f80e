import { apiRequest } from "./api-request";

/** A small client for the ingest API, as an upstream system would use it. */
export interface IngestClient {
  createEndpoint(body: Record<string, unknown>): Promise<{ id: string; secret: string }>;
  /** Creates the tenant (named `Tenant <id>`); throws unless ingest answers 201. */
  createTenant(id: string): Promise<void>;
  /** An endpoint under `/v1/tenants/{tenantId}`; throws unless ingest answers 201. */
  createTenantEndpoint(
    tenantId: string,
    body: Record<string, unknown>,
  ): Promise<{ id: string; secret: string }>;
  postEvent(
    body: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function ingestClient(baseUrl: string, token: string): IngestClient {
  const request = apiRequest(baseUrl, token);
  const createIn = async (path: string, body: Record<string, unknown>) => {
    const res = await request(path, { method: "POST", body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`create endpoint: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; secret: string };
  };
  return {
    request,
    createEndpoint: (body) => createIn("/v1/endpoints", body),
    async createTenant(id) {
      const body = { id, name: `Tenant ${id}` };
      const res = await request("/v1/tenants", { method: "POST", body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`create tenant: ${res.status} ${await res.text()}`);
    },
    createTenantEndpoint: (tenantId, body) => createIn(`/v1/tenants/${tenantId}/endpoints`, body),
    async postEvent(body, headers = {}) {
      const res = await request("/v1/events", {
        method: "POST",
        body: JSON.stringify(body),
        headers,
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
  };
}
