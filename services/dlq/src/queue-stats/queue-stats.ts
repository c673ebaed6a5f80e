import {
  type HooklineNames,
  kvStreamName,
  parseDuration,
  tenantOfEndpoint,
} from "@hookline/contracts";
import type { EndpointCache } from "@hookline/kit";
import type { ConsumerInfo, JetStreamManager, MsgRequest, StreamInfo } from "@nats-io/jetstream";
import {
  biggestBacklogs,
  type EndpointBacklog,
  endpointBacklogs,
  type TaskSubjectCounts,
  taskSubjectFilters,
} from "./backlogs";

/** Endpoints in topBacklogs. */
export const TOP_BACKLOGS = 10;

export interface StreamStats {
  name: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  /** Null when the stream is empty. */
  firstAt: string | null;
  lastSeq: number;
  lastAt: string | null;
  consumers: number;
}

export interface OldestWaiting {
  /** The stream sequence of the oldest message the consumer has not had acked. */
  oldestWaitingSeq: number | null;
  oldestWaitingAt: string | null;
  oldestWaitingAgeMs: number | null;
}

export interface ConsumerStats extends OldestWaiting {
  stream: string;
  name: string;
  filterSubject: string | null;
  pending: number;
  ackPending: number;
  redelivered: number;
  waitingPulls: number;
  ackFloor: number;
}

export interface RetryTierStats {
  tier: string;
  /** `retry-<tier>`; null for a tier whose subjects hold messages but has no consumer. */
  consumer: string | null;
  /** Messages on `<prefix>.retry.<tier>.>` (a bound tenant's: its endpoints' only). */
  messages: number;
  /** Tenant-wide only: the consumer's pending plus ack pending. */
  waiting?: number | null;
  oldestWaitingAt?: string | null;
  oldestWaitingAgeMs?: number | null;
}

export interface BacklogStats {
  endpointId: string;
  /** The endpoint's tenant from the endpoint cache; null for an endpoint it does not know. */
  tenantId: string | null;
  total: number;
  fresh: number;
  retry: number;
  overflow: number;
  delayed: number;
  delayedByTier: Record<string, number>;
}

export interface QueueStats {
  generatedAt: string;
  /** The tenant the answer is limited to; null: every tenant. */
  tenantId: string | null;
  /** Every tenant only: other tenants' traffic is in them. */
  streams?: StreamStats[];
  consumers?: ConsumerStats[];
  retryTiers: RetryTierStats[];
  topBacklogs: BacklogStats[];
}

export type QueueStatsOutcome =
  | { outcome: "ok"; stats: QueueStats }
  | { outcome: "unavailable"; dependency: "nats"; error: unknown };

export interface QueueStatsReader {
  /** Every tenant's view, or (`tenantId`) what that tenant may see. */
  read(scope: { tenantId?: string | undefined }): Promise<QueueStatsOutcome>;
}

export interface QueueStatsDeps {
  jsm: JetStreamManager;
  names: HooklineNames;
  endpoints: Pick<EndpointCache, "get">;
  now?: () => number;
}

/** A stream's first_ts/last_ts; an empty stream's is year 1 and means nothing. */
const streamTime = (messages: number, ts: string) =>
  messages === 0 ? null : new Date(ts).toISOString();

function streamStats(info: StreamInfo): StreamStats {
  const { state } = info;
  return {
    name: info.config.name,
    messages: state.messages,
    bytes: state.bytes,
    firstSeq: state.first_seq,
    firstAt: streamTime(state.messages, state.first_ts),
    lastSeq: state.last_seq,
    lastAt: streamTime(state.messages, state.last_ts),
    consumers: state.consumer_count,
  };
}

const byDuration = (a: string, b: string) =>
  (parseDuration(a) ?? Number.MAX_SAFE_INTEGER) - (parseDuration(b) ?? Number.MAX_SAFE_INTEGER) ||
  (a < b ? -1 : a > b ? 1 : 0);

/**
 * Each tier: those with a consumer (`retry-<tier>` on RETRY), and any other whose subjects hold
 * visible messages; shortest first. Consumer figures only when every tenant's are shown.
 */
function retryTierStats(
  tierPrefix: string,
  retryStream: string,
  consumers: readonly ConsumerStats[],
  visible: readonly EndpointBacklog[],
  everyTenant: boolean,
): RetryTierStats[] {
  const tierConsumers = new Map(
    consumers
      .filter((c) => c.stream === retryStream && c.name.startsWith(tierPrefix))
      .map((c) => [c.name.slice(tierPrefix.length), c]),
  );
  const tierMessages = new Map<string, number>();
  for (const backlog of visible) {
    for (const [tier, count] of Object.entries(backlog.delayedByTier)) {
      tierMessages.set(tier, (tierMessages.get(tier) ?? 0) + count);
    }
  }
  const tiers = [...new Set([...tierConsumers.keys(), ...tierMessages.keys()])].sort(byDuration);
  return tiers.map((tier) => {
    const consumer = tierConsumers.get(tier);
    const stats: RetryTierStats = {
      tier,
      consumer: consumer?.name ?? null,
      messages: tierMessages.get(tier) ?? 0,
    };
    if (!everyTenant) return stats;
    return {
      ...stats,
      waiting: consumer === undefined ? null : consumer.pending + consumer.ackPending,
      oldestWaitingAt: consumer?.oldestWaitingAt ?? null,
      oldestWaitingAgeMs: consumer?.oldestWaitingAgeMs ?? null,
    };
  });
}

/**
 * Queue figures read from JetStream itself, never counted by hand: stream info (with
 * per-subject counts for the three task streams), consumer info, and one message read per
 * consumer that has messages waiting, for the oldest one's age.
 */
export function createQueueStatsReader(deps: QueueStatsDeps): QueueStatsReader {
  const { jsm, names } = deps;
  const clock = deps.now ?? Date.now;
  const filters = taskSubjectFilters(names);
  const tierPrefix = names.consumers.retryTier("");
  const streamNames = [...Object.values(names.streams), kvStreamName(names.kv.endpoints)];

  /**
   * The oldest message not yet acked: the first after the ack floor on the consumer's subjects.
   * Acked messages of a work queue are gone, and the one right after the floor is unacked by
   * definition; a consumer with nothing pending or awaiting an ack has none. STREAM.MSG.GET
   * takes next_by_subj since server 2.9; nats.js types it only for direct gets.
   */
  const oldestWaiting = async (
    stream: string,
    info: ConsumerInfo,
    now: number | undefined,
  ): Promise<OldestWaiting> => {
    const none = { oldestWaitingSeq: null, oldestWaitingAt: null, oldestWaitingAgeMs: null };
    if (now === undefined || info.num_pending + info.num_ack_pending === 0) return none;
    const request = {
      seq: info.ack_floor.stream_seq + 1,
      next_by_subj: info.config.filter_subject || ">",
    } as unknown as MsgRequest;
    const message = await jsm.streams.getMessage(stream, request);
    if (message === null) return none;
    return {
      oldestWaitingSeq: message.seq,
      oldestWaitingAt: message.time.toISOString(),
      // A message published while this runs may be younger than `now`.
      oldestWaitingAgeMs: Math.max(0, now - message.time.getTime()),
    };
  };

  /** The stream's durable consumers; their oldest waiting message when `now` is given. */
  const durables = async (stream: string, now: number | undefined): Promise<ConsumerStats[]> => {
    const infos: ConsumerInfo[] = [];
    for await (const info of jsm.consumers.list(stream)) {
      // Ephemeral ones (the endpoint cache's watches) come and go with a process.
      if (info.config.durable_name) infos.push(info);
    }
    return Promise.all(
      infos.map(async (info) => ({
        stream,
        name: info.name,
        filterSubject: info.config.filter_subject || null,
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
        waitingPulls: info.num_waiting,
        ackFloor: info.ack_floor.stream_seq,
        ...(await oldestWaiting(stream, info, now)),
      })),
    );
  };

  const subjectCounts = async (stream: string, filter: string) => {
    const info = await jsm.streams.info(stream, { subjects_filter: filter });
    return { info, subjects: info.state.subjects ?? {} };
  };

  const read = async (tenantId: string | undefined): Promise<QueueStats> => {
    const now = clock();
    const everyTenant = tenantId === undefined;
    const [dispatch, dispatchRetry, retry] = await Promise.all([
      subjectCounts(names.streams.dispatch, filters.dispatch),
      subjectCounts(names.streams.dispatchRetry, filters.dispatchRetry),
      subjectCounts(names.streams.retry, filters.retry),
    ]);
    const counted = new Map([dispatch, dispatchRetry, retry].map((c) => [c.info.config.name, c]));
    const [streams, consumers] = everyTenant
      ? await Promise.all([
          Promise.all(
            streamNames.map(async (name) => counted.get(name)?.info ?? jsm.streams.info(name)),
          ),
          Promise.all(streamNames.map((name) => durables(name, now))).then((all) => all.flat()),
        ])
      : // The tier consumers' names only: their figures are every tenant's.
        [undefined, await durables(names.streams.retry, undefined)];

    const counts: TaskSubjectCounts = {
      dispatch: dispatch.subjects,
      dispatchRetry: dispatchRetry.subjects,
      retry: retry.subjects,
    };
    const tenantOf = (endpointId: string) => {
      const cached = deps.endpoints.get(endpointId);
      return cached === undefined ? null : tenantOfEndpoint(cached.record);
    };
    const visible = [...endpointBacklogs(names, counts).values()].filter(
      (backlog) => everyTenant || tenantOf(backlog.endpointId) === tenantId,
    );

    const topBacklogs = biggestBacklogs(visible, TOP_BACKLOGS).map(
      (backlog): BacklogStats => ({ ...backlog, tenantId: tenantOf(backlog.endpointId) }),
    );
    const stats: QueueStats = {
      generatedAt: new Date(now).toISOString(),
      tenantId: tenantId ?? null,
      retryTiers: retryTierStats(tierPrefix, names.streams.retry, consumers, visible, everyTenant),
      topBacklogs,
    };
    if (streams !== undefined) {
      stats.streams = streams.map(streamStats);
      stats.consumers = consumers;
    }
    return stats;
  };

  return {
    async read(scope) {
      try {
        return { outcome: "ok", stats: await read(scope.tenantId) };
      } catch (error) {
        return { outcome: "unavailable", dependency: "nats", error };
      }
    },
  };
}
