import { apiRequest } from "./api-request";

/** A small client for the dlq operators' API, as an operator's script would use it. */

export type DeadLetterStatus = "open" | "replayed" | "resolved" | "discarded";

export interface DeadLetter {
  id: string;
  taskId: string;
  eventId: string | null;
  eventType: string | null;
  endpointId: string | null;
  endpointUrl: string | null;
  reason: string;
  status: DeadLetterStatus;
  attemptCount: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deadAt: string;
  replayCount: number;
  resolvedAt: string | null;
  resolvedBy: string | null;
  note: string | null;
}

export interface DeadLetterDetail extends DeadLetter {
  body: string;
  bodyEncoding: "utf8" | "base64";
  headers: Record<string, string>;
  attempts: {
    n: number;
    at: string;
    result: string;
    status: number | null;
    error: string | null;
    durationMs: number;
  }[];
}

export interface AuditEntry {
  id: string;
  action: string;
  actor: string;
  note: string | null;
  at: string;
  details: Record<string, unknown>;
}

export interface DeadLetterStats {
  byStatus: Record<DeadLetterStatus, number>;
  byReason: Record<string, number>;
  byEndpoint: Record<string, number>;
  byEventType: Record<string, number>;
}

export interface LetterFilter {
  status?: DeadLetterStatus;
  reason?: string;
  endpointId?: string;
  eventType?: string;
  from?: string;
  to?: string;
}

export interface BulkResult {
  matched: number;
  done: number;
}

/** A status and the parsed JSON body; callers assert on the status before trusting the shape. */
export interface Answer<T> {
  status: number;
  json: T;
}

export interface DlqClient {
  list(
    query?: LetterFilter & { cursor?: string; limit?: number },
  ): Promise<Answer<{ data: DeadLetter[]; nextCursor: string | null }>>;
  get(id: string): Promise<Answer<DeadLetterDetail>>;
  audit(id: string): Promise<Answer<{ data: AuditEntry[] }>>;
  stats(query?: LetterFilter): Promise<Answer<DeadLetterStats>>;
  replay(id: string, note?: string): Promise<Answer<DeadLetter>>;
  resolve(id: string, note: string): Promise<Answer<DeadLetter>>;
  discard(id: string, note: string): Promise<Answer<DeadLetter>>;
  replayMatching(body: {
    filter: LetterFilter;
    limit?: number;
    note?: string;
  }): Promise<Answer<BulkResult>>;
  resolveMatching(body: {
    filter: LetterFilter;
    limit?: number;
    note?: string;
  }): Promise<Answer<BulkResult>>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function dlqClient(baseUrl: string, token: string): DlqClient {
  const request = apiRequest(baseUrl, token);
  const answer = async <T>(res: Response): Promise<Answer<T>> => ({
    status: res.status,
    json: (await res.json()) as T,
  });
  const get = async <T>(path: string, query: Record<string, string | number | undefined> = {}) => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.size > 0 ? `?${params}` : "";
    return answer<T>(await request(`${path}${search}`));
  };
  const post = async <T>(path: string, body: unknown) =>
    answer<T>(await request(path, { method: "POST", body: JSON.stringify(body) }));
  const letter = (id: string) => `/v1/dead-letters/${encodeURIComponent(id)}`;

  return {
    request,
    list: (query = {}) => get("/v1/dead-letters", { ...query }),
    get: (id) => get(letter(id)),
    audit: (id) => get(`${letter(id)}/audit`),
    stats: (query = {}) => get("/v1/dead-letters/stats", { ...query }),
    replay: (id, note) => post(`${letter(id)}/replay`, note === undefined ? {} : { note }),
    resolve: (id, note) => post(`${letter(id)}/resolve`, { note }),
    discard: (id, note) => post(`${letter(id)}/discard`, { note }),
    replayMatching: (body) => post("/v1/dead-letters/replay", body),
    resolveMatching: (body) => post("/v1/dead-letters/resolve", body),
  };
}
