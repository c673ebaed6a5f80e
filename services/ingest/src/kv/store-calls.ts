import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/** A KV call failed for a reason other than a revision conflict: NATS is unavailable. */
export class StoreUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super("store unavailable");
  }
}

/** A compare-and-set write lost to another writer. */
export function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** Runs a KV call; any failure becomes StoreUnavailable (callers catch conflicts inside). */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new StoreUnavailable(error);
  }
}

/** Runs a compare-and-set write: its new revision, or undefined when another writer won. */
export function casWrite(write: () => Promise<number>): Promise<number | undefined> {
  return storeCall(async () => {
    try {
      return await write();
    } catch (error) {
      if (isRevisionConflict(error)) return undefined;
      throw error;
    }
  });
}
