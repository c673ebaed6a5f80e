import type { HooklineNames } from "@hookline/contracts";

/** One endpoint's queued tasks, from the streams' per-subject counts. */
export interface EndpointBacklog {
  endpointId: string;
  /** DISPATCH, `dispatch.fresh.<ep>`: new events' tasks. */
  fresh: number;
  /** DISPATCH_RETRY, `dispatch.retry.<ep>`: released retries and replays, due now. */
  retry: number;
  /** DISPATCH_RETRY, `dispatch.overflow.<ep>`: tasks moved off a busy endpoint's way. */
  overflow: number;
  /** RETRY, `retry.<tier>.<ep>`: retries waiting in a tier for their time, all tiers. */
  delayed: number;
  total: number;
  /** `delayed` by tier. */
  delayedByTier: Record<string, number>;
}

/** Per-subject message counts (stream info's `state.subjects`) of the three task streams. */
export interface TaskSubjectCounts {
  dispatch: Record<string, number>;
  dispatchRetry: Record<string, number>;
  retry: Record<string, number>;
}

/** The subject filter whose counts each task stream is asked for. */
export function taskSubjectFilters(names: HooklineNames): Record<keyof TaskSubjectCounts, string> {
  return {
    dispatch: names.subjects.dispatchFreshAll,
    // Both of DISPATCH_RETRY's subjects: dispatch.retry.> and dispatch.overflow.>
    dispatchRetry: `${names.prefix}.dispatch.>`,
    retry: names.subjects.retryAll,
  };
}

/**
 * Every endpoint's backlog, summed from the subjects: `<prefix>.dispatch.fresh.<ep>`,
 * `<prefix>.dispatch.retry.<ep>`, `<prefix>.dispatch.overflow.<ep>`, `<prefix>.retry.<tier>.<ep>`.
 * A subject of another shape (none should exist) is left out.
 */
export function endpointBacklogs(
  names: HooklineNames,
  counts: TaskSubjectCounts,
): Map<string, EndpointBacklog> {
  const backlogs = new Map<string, EndpointBacklog>();
  const backlogOf = (endpointId: string) => {
    let backlog = backlogs.get(endpointId);
    if (backlog === undefined) {
      backlog = {
        endpointId,
        fresh: 0,
        retry: 0,
        overflow: 0,
        delayed: 0,
        total: 0,
        delayedByTier: {},
      };
      backlogs.set(endpointId, backlog);
    }
    return backlog;
  };
  const add = (
    subjects: Record<string, number>,
    lane: "fresh" | "retry" | "overflow",
    prefix: string,
  ) => {
    for (const [subject, count] of Object.entries(subjects)) {
      if (!subject.startsWith(prefix) || subject.length === prefix.length) continue;
      const backlog = backlogOf(subject.slice(prefix.length));
      backlog[lane] += count;
      backlog.total += count;
    }
  };
  add(counts.dispatch, "fresh", names.subjects.dispatchFresh(""));
  add(counts.dispatchRetry, "retry", names.subjects.dispatchRetry(""));
  add(counts.dispatchRetry, "overflow", names.subjects.dispatchOverflow(""));

  const retryPrefix = `${names.prefix}.retry.`;
  for (const [subject, count] of Object.entries(counts.retry)) {
    if (!subject.startsWith(retryPrefix)) continue;
    // <tier>.<ep>: a tier name has no dot (it is one subject token).
    const rest = subject.slice(retryPrefix.length);
    const dot = rest.indexOf(".");
    if (dot <= 0 || dot === rest.length - 1) continue;
    const tier = rest.slice(0, dot);
    const backlog = backlogOf(rest.slice(dot + 1));
    backlog.delayed += count;
    backlog.total += count;
    backlog.delayedByTier[tier] = (backlog.delayedByTier[tier] ?? 0) + count;
  }
  return backlogs;
}

/** The `limit` biggest backlogs, biggest first, ties by endpoint id. */
export function biggestBacklogs(
  backlogs: Iterable<EndpointBacklog>,
  limit: number,
): EndpointBacklog[] {
  return [...backlogs]
    .sort(
      (a, b) =>
        b.total - a.total ||
        (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0),
    )
    .slice(0, limit);
}
