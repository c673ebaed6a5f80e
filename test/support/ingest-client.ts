import { apiRequest } from "./api-request";

/** A small client for the ingest API, as an upstream system would use it. */
export interface IngestClient {
  createEndpoint(body: Record<string, unknown>): Promise<{ id: string; secret: string }>;
  postEvent(
    body: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function ingestClient(baseUrl: string, token: string): IngestClient {
  const request = apiRequest(baseUrl, token);
  return {
    request,
    async createEndpoint(body) {
      const res = await request("/v1/endpoints", { method: "POST", body: JSON.stringify(body) });
      if (res.status !== 201) throw new Error(`create endpoint: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string; secret: string };
    },
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
