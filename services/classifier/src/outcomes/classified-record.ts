import {
  type DeadLetterReason,
  encodeClassifiedOutcome,
  Header,
  type HooklineNames,
  type OutcomeMeta,
} from "@hookline/contracts";
import { encodedHeaders, type Logger, rawHeaderBytes } from "@hookline/kit";
import type { JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";

/** What the classifier did with a failed outcome, as the attempt log records it. */
export type Classification =
  /** `notBefore`: when the retry will be sent (the retry task's Not-Before). */
  | { decision: "retry"; notBefore: number }
  | { decision: "deadletter"; reason: DeadLetterReason }
  | { decision: "ignore" };

/** Core-publishes one classified outcome to the attempt log; never throws. */
export type ClassifiedRecorder = (
  msg: JsMsg,
  outcome: OutcomeMeta,
  classification: Classification,
) => void;

const EMPTY = new Uint8Array(0);
const CR = 13;
const LF = 10;

function classificationLines(classification: Classification): string {
  switch (classification.decision) {
    case "retry":
      return `\r\n${Header.decision}: retry\r\n${Header.notBefore}: ${classification.notBefore}`;
    case "deadletter":
      return `\r\n${Header.decision}: deadletter\r\n${Header.reason}: ${classification.reason}`;
    case "ignore":
      return `\r\n${Header.decision}: ignore`;
  }
}

function endsWithBlankLine(block: Uint8Array): boolean {
  const n = block.length;
  return (
    n >= 4 &&
    block[n - 4] === CR &&
    block[n - 3] === LF &&
    block[n - 2] === CR &&
    block[n - 1] === LF
  );
}

/**
 * The outcome's header block with the classification's lines appended before its closing blank
 * line; undefined when the block does not end in one. Every header of the outcome stays as it
 * was, byte for byte. For deadletter and ignore this is what `encodeClassifiedOutcome` gives
 * when the outcome was written by `encodeOutcome` (the tests hold them equal).
 */
export function appendClassification(
  block: Uint8Array,
  classification: Classification,
): Uint8Array | undefined {
  if (!endsWithBlankLine(block)) return undefined;
  const head = block.length - 4;
  const tail = `${classificationLines(classification)}\r\n\r\n`;
  // The added lines are ASCII: one byte per character.
  const out = Buffer.allocUnsafe(head + tail.length);
  out.set(block.subarray(0, head), 0);
  out.write(tail, head, "latin1");
  return out;
}

/** For an outcome without an id: unique per outcome message, the same on its redelivery. */
function fallbackMsgId(outcome: OutcomeMeta, outcomeSeq: number): string {
  return `${outcome.taskId}#${outcome.attempt}.outcome@${outcomeSeq}`;
}

/**
 * The record's headers. The cheap way appends to the outcome's own header bytes; it is
 * taken only when the result decodes as meant: the bytes are at hand, the outcome has its
 * Nats-Msg-Id (the attempt log's dedupe key) and none of the headers the classification adds
 * (a second Not-Before, Decision or Reason would be shadowed by the first, which decoders read).
 * Otherwise the record is encoded anew from the decoded outcome.
 */
export function classifiedRecordHeaders(
  raw: Uint8Array | undefined,
  headers: MsgHdrs | undefined,
  outcome: OutcomeMeta,
  outcomeSeq: number,
  classification: Classification,
): MsgHdrs {
  const msgId = headers?.get(Header.msgId) ?? "";
  if (
    raw !== undefined &&
    msgId !== "" &&
    outcome.notBefore === undefined &&
    !headers?.has(Header.decision) &&
    !headers?.has(Header.reason)
  ) {
    const appended = appendClassification(raw, classification);
    if (appended !== undefined) return encodedHeaders(appended);
  }
  return encodeClassifiedOutcome(
    {
      ...outcome,
      notBefore: classification.decision === "retry" ? classification.notBefore : undefined,
      decision: classification.decision,
      reason: classification.decision === "deadletter" ? classification.reason : undefined,
    },
    msgId === "" ? fallbackMsgId(outcome, outcomeSeq) : msgId,
  );
}

export interface ClassifiedRecorderDeps {
  nc: Pick<NatsConnection, "publish">;
  names: HooklineNames;
  logger: Logger;
}

/**
 * Copies each classified outcome to `outcome.classified.<ep>` (the ATTEMPTS stream) with a core
 * publish: the log is a copy that may lose records, so no PubAck is awaited and a failed publish
 * only logs at debug. The outcome's Nats-Msg-Id goes along, so a redelivered outcome, decided
 * again after a crash, is a duplicate there. The task body goes with the first attempt only (the
 * log stores each event's body once); later attempts carry no data.
 */
export function createClassifiedRecorder(deps: ClassifiedRecorderDeps): ClassifiedRecorder {
  const { nc, names, logger } = deps;
  return (msg, outcome, classification) => {
    try {
      const headers = classifiedRecordHeaders(
        rawHeaderBytes(msg),
        msg.headers,
        outcome,
        msg.seq,
        classification,
      );
      nc.publish(
        names.subjects.outcomeClassified(outcome.endpointId),
        outcome.attempt <= 1 ? msg.data : EMPTY,
        { headers },
      );
    } catch (error) {
      logger.debug(
        {
          err: error,
          taskId: outcome.taskId,
          eventId: outcome.eventId,
          endpointId: outcome.endpointId,
        },
        "classified outcome not logged",
      );
    }
  };
}
