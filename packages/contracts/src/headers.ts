/** NATS header names. Metadata travels in headers; the message data is the webhook body. */
export const Header = {
  msgId: "Nats-Msg-Id",
  taskId: "Hookline-Task-Id",
  eventId: "Hookline-Event-Id",
  eventType: "Hookline-Event-Type",
  endpointId: "Hookline-Endpoint-Id",
  /** Absent on tasks from before tenants: they belong to DEFAULT_TENANT_ID. */
  tenantId: "Hookline-Tenant-Id",
  attempt: "Hookline-Attempt",
  deferrals: "Hookline-Deferrals",
  createdAt: "Hookline-Created-At",
  deadline: "Hookline-Deadline",
  notBefore: "Hookline-Not-Before",
  history: "Hookline-History",
  result: "Hookline-Result",
  status: "Hookline-Status",
  error: "Hookline-Error",
  durationMs: "Hookline-Duration-Ms",
  retryAfterMs: "Hookline-Retry-After-Ms",
  reason: "Hookline-Reason",
  /** The first 1 KiB of the endpoint's answer, as one line of text (outcomes). */
  responseBody: "Hookline-Response-Body",
  /** What the classifier did with a failed attempt: `retry`, `deadletter` or `ignore`. */
  decision: "Hookline-Decision",
  replayOf: "Hookline-Replay-Of",
  /**
   * On an ATTEMPTS message holding several success records (record-batch.ts): how many. Its
   * data is the records, each its header block and its data.
   */
  records: "Hookline-Records",
} as const;

export type HeaderName = (typeof Header)[keyof typeof Header];
