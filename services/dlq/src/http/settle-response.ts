import type { Context } from "hono";
import type { DatabaseUnavailable } from "../db/outage";
import type { Settlement, SettleOutcome } from "../letters/settle";
import { publicLetter } from "./letter-schemas";
import { invalidStatus, letterNotFound, serviceUnavailable } from "./problems";

/** The answer of the resolve and discard routes, which differ only in the settlement. */
export function settleResponse(
  c: Context,
  id: string,
  how: Settlement,
  result: SettleOutcome | DatabaseUnavailable,
) {
  switch (result.outcome) {
    case "settled":
      return c.json(publicLetter(result.letter), 200);
    case "not_found":
      return letterNotFound(c, id);
    case "conflict":
      return invalidStatus(c, how, result.status);
    case "unavailable":
      return serviceUnavailable(c, result.dependency);
  }
}
