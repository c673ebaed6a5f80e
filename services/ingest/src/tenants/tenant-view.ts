import { DEFAULT_TENANT_ID, type TenantRecord, tenantRecordSchema } from "@hookline/contracts";
import { createRevisionWatermark, type Logger } from "@hookline/kit";
import type { KV } from "@nats-io/kv";

type KvWatcher = Awaited<ReturnType<KV["watch"]>>;

export interface CachedTenant {
  record: TenantRecord;
  /** KV revision, for compare-and-set writes. */
  revision: number;
}

/** Whether a tenant takes new endpoints and events. */
export type TenantState = "open" | "deleting" | "unknown";

/**
 * An in-memory copy of the tenants bucket, kept current by a KV watch: every event request asks
 * it whether its tenant exists, so that must be a map lookup, never a KV read.
 */
export interface TenantView {
  /** The stored record; the default tenant has one only once it was changed through the API. */
  get(id: string): CachedTenant | undefined;
  /** The default tenant is always open: it exists implicitly and cannot be deleted. */
  state(id: string): TenantState;
  all(): CachedTenant[];
  ready: Promise<void>;
  isReady(): boolean;
  /** Resolves when the view holds at least `revision` (after our own writes). */
  waitForRevision(revision: number, timeoutMs?: number): Promise<boolean>;
  stop(): void;
}

export async function startTenantView(kv: KV, logger: Logger): Promise<TenantView> {
  // Keyed by tenant id (the record's), not by the bucket key: lookups come with ids.
  const byId = new Map<string, CachedTenant>();
  const idByKey = new Map<string, string>();
  const watermark = createRevisionWatermark();

  const apply = (key: string, revision: number, operation: string, value: Uint8Array) => {
    const previous = idByKey.get(key);
    if (previous !== undefined) {
      byId.delete(previous);
      idByKey.delete(key);
    }
    if (operation === "PUT") {
      let parsed: ReturnType<typeof tenantRecordSchema.safeParse> | undefined;
      try {
        parsed = tenantRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(value)));
      } catch (error) {
        logger.error({ key, err: error }, "tenant record is not JSON; ignored");
      }
      if (parsed?.success) {
        byId.set(parsed.data.id, { record: parsed.data, revision });
        idByKey.set(key, parsed.data.id);
      } else if (parsed !== undefined) {
        logger.error({ key, error: parsed.error.message }, "tenant record is invalid; ignored");
      }
    }
    watermark.applied(revision);
  };

  const status = await kv.status();
  const startSeq = status.streamInfo.state.last_seq;
  let readyNow = startSeq === 0;
  let markReady: () => void = () => {};
  const ready = readyNow
    ? Promise.resolve()
    : new Promise<void>((resolve) => (markReady = resolve));

  const watcher: KvWatcher = await kv.watch();
  void (async () => {
    for await (const entry of watcher) {
      apply(entry.key, entry.revision, entry.operation, entry.value);
      if (!readyNow && (entry.revision >= startSeq || entry.isUpdate)) {
        readyNow = true;
        markReady();
      }
    }
  })().catch((error: unknown) => logger.error({ err: error }, "tenant watch ended"));

  const waitForRevision = watermark.waitFor;

  return {
    get: (id) => byId.get(id),
    state(id) {
      if (id === DEFAULT_TENANT_ID) return "open";
      const cached = byId.get(id);
      if (cached === undefined) return "unknown";
      return cached.record.deleting === true ? "deleting" : "open";
    },
    all: () => [...byId.values()],
    ready,
    isReady: () => readyNow,
    waitForRevision,
    stop: () => watcher.stop(),
  };
}
