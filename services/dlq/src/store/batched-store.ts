import type { Kysely } from "kysely";
import type { Database } from "../db/schema";
import type { IncomingLetter } from "./incoming";
import { insertNewLetters, type NewLetter } from "./new-letters";
import { type StoreOutcome, storeLetter } from "./store-letter";

/** Stores one letter; letters handed in during one event-loop turn share a statement. */
export type LetterStore = (
  letter: IncomingLetter,
  endpointUrl: string | null,
) => Promise<StoreOutcome>;

interface Waiting extends NewLetter {
  resolve: (outcome: StoreOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Most letters are a task's first death: those of one turn (a pull batch, a burst of deaths)
 * go in with one statement. The rest (an invalid message, a task that already has a row, a
 * second letter of the same task in the batch) take `storeLetter`'s transaction, which merges.
 * A failed statement fails every letter of its batch, and each handler naks its own.
 */
export function createBatchedLetterStore(
  db: Kysely<Database>,
  now: () => number = Date.now,
): LetterStore {
  let waiting: Waiting[] = [];
  let scheduled = false;

  const one = (letter: IncomingLetter, endpointUrl: string | null) =>
    storeLetter(db, letter, { endpointUrl, now: new Date(now()) });

  const flush = async () => {
    scheduled = false;
    const batch = waiting;
    waiting = [];
    const first: Waiting[] = [];
    const later: Waiting[] = [];
    const tasks = new Set<string>();
    for (const entry of batch) {
      if (tasks.has(entry.letter.taskId)) later.push(entry);
      else {
        tasks.add(entry.letter.taskId);
        first.push(entry);
      }
    }
    let inserted: Map<string, string>;
    try {
      inserted = await insertNewLetters(db, first, new Date(now()));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    for (const entry of first) {
      const id = inserted.get(entry.letter.taskId);
      if (id !== undefined) entry.resolve({ outcome: "stored", id });
      else later.push(entry);
    }
    // In arrival order, one at a time: two deaths of one task merge as they would unbatched.
    for (const entry of later) {
      await one(entry.letter, entry.endpointUrl).then(entry.resolve, entry.reject);
    }
  };

  return (letter, endpointUrl) => {
    if (letter.invalid !== undefined) return one(letter, endpointUrl);
    return new Promise<StoreOutcome>((resolve, reject) => {
      waiting.push({ letter, endpointUrl, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    });
  };
}
