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
  | "full";

export interface EndpointSlotsOptions<T> {
  /** Tasks one endpoint may have waiting here; more are "full". */
  maxHeldPerEndpoint: number;
  /** Tasks all endpoints together may have waiting here; more are "full". */
  maxHeld: number;
  /** A held task whose turn came, its endpoint slot taken. */
  start: (item: T) => void;
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
  /** Every waiting task, for keeping them alive on the server. */
  held(): Iterable<T>;
  heldCount(): number;
  /** Empties every queue (shutdown): the caller gives the tasks back to the server. */
  takeAllHeld(): T[];
  /** Stops the pause timers. */
  close(): void;
}

interface EndpointState<T> {
  running: number;
  cap: number;
  queue: T[];
  pausedUntil: number;
  timer: NodeJS.Timeout | undefined;
}

export function createEndpointSlots<T>(options: EndpointSlotsOptions<T>): EndpointSlots<T> {
  const now = options.now ?? (() => performance.now());
  const states = new Map<string, EndpointState<T>>();
  let heldCount = 0;

  const stateOf = (endpointId: string, cap: number): EndpointState<T> => {
    let state = states.get(endpointId);
    if (!state) {
      state = { running: 0, cap, queue: [], pausedUntil: 0, timer: undefined };
      states.set(endpointId, state);
    }
    // The newest cap wins: an endpoint's override may change while tasks run.
    state.cap = cap;
    return state;
  };

  const forgetIfIdle = (endpointId: string, state: EndpointState<T>) => {
    if (state.running === 0 && state.queue.length === 0 && state.timer === undefined) {
      states.delete(endpointId);
    }
  };

  const startWaiting = (endpointId: string, state: EndpointState<T>) => {
    while (state.queue.length > 0 && state.running < state.cap && now() >= state.pausedUntil) {
      const item = state.queue.shift() as T;
      heldCount--;
      state.running++;
      options.start(item);
    }
    forgetIfIdle(endpointId, state);
  };

  return {
    admit(endpointId, cap, item, movable) {
      const state = stateOf(endpointId, cap);
      if (state.queue.length === 0 && state.running < state.cap && now() >= state.pausedUntil) {
        state.running++;
        return "run";
      }
      const roomHere = state.queue.length < options.maxHeldPerEndpoint;
      if (movable && (!roomHere || heldCount >= options.maxHeld)) {
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
      startWaiting(endpointId, state);
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
