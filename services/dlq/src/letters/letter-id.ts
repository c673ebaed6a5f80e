import { randomBytes } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

/**
 * `dl_` + 26 Crockford base32 characters laid out like a ULID (48 bits of milliseconds, then 80
 * random bits), so ids sort by creation time. Written here rather than adding the `ulid`
 * package for one function; ids need not be monotonic within a millisecond, since every order
 * uses `dead_at` first and the id only breaks ties.
 */
export function newDeadLetterId(now: number = Date.now()): string {
  let time = Math.max(0, Math.floor(now));
  let timePart = "";
  for (let i = 0; i < TIME_CHARS; i++) {
    timePart = CROCKFORD.charAt(time % 32) + timePart;
    time = Math.floor(time / 32);
  }
  let random = BigInt(`0x${randomBytes(10).toString("hex")}`);
  let randomPart = "";
  for (let i = 0; i < RANDOM_CHARS; i++) {
    randomPart = CROCKFORD.charAt(Number(random & 31n)) + randomPart;
    random >>= 5n;
  }
  return `dl_${timePart}${randomPart}`;
}

export const deadLetterIdPattern = /^dl_[0-9A-HJKMNP-TV-Z]{26}$/;

/** Anything else names no letter: lookups answer "not found" without asking the database. */
export function isDeadLetterId(id: string): boolean {
  return deadLetterIdPattern.test(id);
}
