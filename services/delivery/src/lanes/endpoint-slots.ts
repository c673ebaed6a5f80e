/**
 * Per-endpoint admission inside one delivery instance: at most `cap` tasks of an endpoint are
 * sent at once, and tasks beyond that wait here, in arrival order, without holding one of the
 * lane's slots. So a slow endpoint uses its own share and the tasks behind it go on.
 *
 * Pure bookkeeping: the lane decides what "start" means (it may still wait for a lane slot) and
 * keeps the waiting messages alive on the server.
 */
export type Admission =
  /** A slot of the endpoint is taken for the task: send it now, then call done(). */
  | "run"
  /** Queued; `start` is called with the slot already taken once it may go. */
  | "held"
  /** The endpoint's queue (or the instance's hold budget) is full: move the task elsewhere. */
  | "full"
  /**
   * Full, but at the rate the endpoint has been finishing tasks room comes within `drainMs`:
   * wait for it with `room()` instead of moving the task. The caller keeps its lane slot while
   * it waits, so the lane pulls less: moving a task costs about as much as delivering it, and a
   * lane that moves a fast endpoint's backlog spends its time on that instead of sending.
   */
  | "wait";

/** How a task that waited for room ended. */
export type RoomResult =
  /** Queued like a held task: `start` is called for it once it may go. */
  | "held"
  /** No room within the time given (the endpoint slowed down): move it after all. */
  | "timeout"
  /** Shutdown took it with takeAllHeld(): the caller gives it back. */
  | "taken";

export interface EndpointSlotsOptions<T> {
  /** Tasks one endpoint may have waiting here; more are "full". */
  maxHeldPerEndpoint: number;
  /** Tasks all endpoints together may have waiting here; more are "full". */
  maxHeld: number;
  /** A held task whose turn came, its endpoint slot taken. */
  start: (item: T) => void;
  /**
   * A full endpoint that finishes tasks fast enough for room to come within this long makes
   * its next tasks wait for room ("wait") rather than be moved. 0: always moved.
   */
  drainMs?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

export interface EndpointSlots<T> {
  /**
   * Takes a slot of the endpoint when it has one and isn't paused, else queues the task.
   * `movable: false` always queues (the task came from where full tasks are moved to).
   */
  admit(endpointId: string, cap: number, item: T, movable: boolean): Admission;
  /** The task is finished: its slot goes to the endpoint's next waiting task. */
  done(endpointId: string): void;
  /**
   * The task could not go yet (rate limited): its slot is given back, it waits at the head of
   * the queue, and the endpoint starts nothing for `ms`.
   */
  pause(endpointId: string, ms: number, item: T): void;
  /**
   * After "wait": resolves "held" once the endpoint has room again (the task is then queued),
   * "timeout" after `timeoutMs` without room, or "taken" at shutdown. Tasks wait in order.
   */
  room(endpointId: string, item: T, timeoutMs: number): Promise<RoomResult>;
  /** Every waiting task, for keeping them alive on the server. */
  held(): Iterable<T>;
  heldCount(): number;
  /** Empties every queue and wait for room (shutdown): the caller gives the tasks back. */
  takeAllHeld(): T[];
  /** Stops the pause timers. */
  close(): void;
}

interface RoomWaiter<T> {
  item: T;
  settle(result: RoomResult): void;
}

interface EndpointState<T> {
  running: number;
  cap: number;
  queue: T[];
  /** Tasks that found the queue full while it drained fast, waiting for room in order. */
  waiters: RoomWaiter<T>[];
  pausedUntil: number;
  timer: NodeJS.Timeout | undefined;
  /** Tasks finished since windowStart, and the rate (per ms) of the window before. */
  windowStart: number;
  windowDone: number;
  previousRate: number;
}

/** Completions are counted over windows this long. */
const RATE_WINDOW_MS = 1_000;
/** Below this many completions a second an endpoint's tasks are always moved when it is full. */
const MIN_FAST_COMPLETIONS = 16;

export function createEndpointSlots<T>(options: EndpointSlotsOptions<T>): EndpointSlots<T> {
  const now = options.now ?? (() => performance.now());
  const drainMs = options.drainMs ?? 0;
  const states = new Map<string, EndpointState<T>>();
  let heldCount = 0;

  const stateOf = (endpointId: string, cap: number): EndpointState<T> => {
    let state = states.get(endpointId);
    if (!state) {
      state = {
        running: 0,
        cap,
        queue: [],
        waiters: [],
        pausedUntil: 0,
        timer: undefined,
        windowStart: now(),
        windowDone: 0,
        previousRate: 0,
      };
      states.set(endpointId, state);
    }
    // The newest cap wins: an endpoint's override may change while tasks run.
    state.cap = cap;
    return state;
  };

  const forgetIfIdle = (endpointId: string, state: EndpointState<T>) => {
    if (
      state.running === 0 &&
      state.queue.length === 0 &&
      state.waiters.length === 0 &&
      state.timer === undefined
    ) {
      states.delete(endpointId);
    }
  };

  const roll = (state: EndpointState<T>, at: number) => {
    const elapsed = at - state.windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    // A window that ended over a window ago says nothing about the last second.
    state.previousRate = elapsed < 2 * RATE_WINDOW_MS ? state.windowDone / elapsed : 0;
    state.windowStart = at;
    state.windowDone = 0;
  };

  /**
   * Whether room is expected within drainMs for one more task waiting for it: every task the
   * endpoint finishes makes room for one, so it must have finished at least as many as wait
   * (this one included) over about the last drainMs.
   */
  const roomSoon = (state: EndpointState<T>): boolean => {
    if (drainMs <= 0) return false;
    const at = now();
    roll(state, at);
    const lastSecond =
      state.windowDone +
      state.previousRate * Math.max(0, RATE_WINDOW_MS - (at - state.windowStart));
    return (
      lastSecond >= MIN_FAST_COMPLETIONS &&
      lastSecond * (drainMs / RATE_WINDOW_MS) >= state.waiters.length + 1
    );
  };

  const hasRoom = (state: EndpointState<T>) =>
    state.queue.length < options.maxHeldPerEndpoint && heldCount < options.maxHeld;

  const startWaiting = (endpointId: string, state: EndpointState<T>) => {
    for (;;) {
      while (state.queue.length > 0 && state.running < state.cap && now() >= state.pausedUntil) {
        const item = state.queue.shift() as T;
        heldCount--;
        state.running++;
        options.start(item);
      }
      // Room again: the first task waiting for it joins the queue (and may start at once).
      const waiter = hasRoom(state) ? state.waiters.shift() : undefined;
      if (!waiter) break;
      state.queue.push(waiter.item);
      heldCount++;
      waiter.settle("held");
    }
    forgetIfIdle(endpointId, state);
  };

  return {
    admit(endpointId, cap, item, movable) {
      const state = stateOf(endpointId, cap);
      const first = state.queue.length === 0 && state.waiters.length === 0;
      if (first && state.running < state.cap && now() >= state.pausedUntil) {
        state.running++;
        return "run";
      }
      // Behind tasks waiting for room: they go first.
      const roomHere =
        state.queue.length < options.maxHeldPerEndpoint && state.waiters.length === 0;
      if (movable && (!roomHere || heldCount >= options.maxHeld)) {
        if (roomSoon(state)) return "wait";
        forgetIfIdle(endpointId, state);
        return "full";
      }
      state.queue.push(item);
      heldCount++;
      return "held";
    },
    done(endpointId) {
      const state = states.get(endpointId);
      if (!state) return;
      state.running = Math.max(0, state.running - 1);
      roll(state, now());
      state.windowDone++;
      startWaiting(endpointId, state);
    },
    room(endpointId, item, timeoutMs) {
      const state = states.get(endpointId);
      if (!state) return Promise.resolve("timeout");
      return new Promise<RoomResult>((resolve) => {
        const waiter: RoomWaiter<T> = {
          item,
          settle(result) {
            clearTimeout(timer);
            resolve(result);
          },
        };
        const timer = setTimeout(() => {
          const at = state.waiters.indexOf(waiter);
          if (at >= 0) state.waiters.splice(at, 1);
          forgetIfIdle(endpointId, state);
          resolve("timeout");
        }, timeoutMs);
        state.waiters.push(waiter);
        // Room may have come between admit() and now.
        startWaiting(endpointId, state);
      });
    },
    pause(endpointId, ms, item) {
      const state = stateOf(endpointId, states.get(endpointId)?.cap ?? 1);
      state.running = Math.max(0, state.running - 1);
      state.queue.unshift(item);
      heldCount++;
      state.pausedUntil = Math.max(state.pausedUntil, now() + ms);
      if (state.timer) clearTimeout(state.timer);
      state.timer = setTimeout(
        () => {
          state.timer = undefined;
          startWaiting(endpointId, state);
        },
        // +1: a timer may fire a fraction of a millisecond before the monotonic clock agrees.
        Math.max(1, Math.ceil(state.pausedUntil - now()) + 1),
      );
      // Other tasks of the endpoint may still be running; they start nothing until then.
    },
    *held() {
      for (const state of states.values()) yield* state.queue;
    },
    heldCount: () => heldCount,
    takeAllHeld() {
      const all: T[] = [];
      for (const [endpointId, state] of states) {
        all.push(...state.queue);
        state.queue = [];
        for (const waiter of state.waiters.splice(0)) {
          all.push(waiter.item);
          waiter.settle("taken");
        }
        if (state.timer) clearTimeout(state.timer);
        state.timer = undefined;
        forgetIfIdle(endpointId, state);
      }
      heldCount = 0;
      return all;
    },
    close() {
      for (const state of states.values()) {
        if (state.timer) clearTimeout(state.timer);
        state.timer = undefined;
      }
    },
  };
}
