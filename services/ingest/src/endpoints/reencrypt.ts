import { endpointRecordSchema } from "@hookline/contracts";
import { type Logger, resealEndpointRecord, type SecretBox } from "@hookline/kit";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/transport-node";

export interface ReencryptReport {
  /** The kid every value is sealed under afterwards. */
  kid: string;
  /** Records read (keys deleted meanwhile are not counted). */
  records: number;
  /** Records written back with their plain or older-kid values sealed again. */
  resealed: number;
  /** Secret and header values sealed anew, over all those records. */
  values: number;
  /** Records whose every value was under the kid already: not written. */
  unchanged: number;
  /** Records not re-encrypted: a value that does not open, a record that fails the schema, or
   * other writers winning every compare-and-set. Named in the log. */
  failed: number;
}

const MAX_WRITE_ATTEMPTS = 5;

function isRevisionConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

type RecordOutcome =
  | { outcome: "resealed"; values: number }
  | { outcome: "unchanged" }
  | { outcome: "gone" }
  | { outcome: "failed" };

/**
 * Seals every signing secret and header value of the endpoints bucket under the box's first key:
 * plain ones (from before encryption) and ones under an older kid. Each write is a
 * compare-and-set on the record's revision, re-read on a conflict, so it is safe while ingest,
 * delivery and the classifier write; records already under the key are not written, so a second
 * run changes nothing. Each write is also a rollup: the key's earlier revisions, which hold the
 * values plain or under the old key, leave the bucket's history.
 */
export async function reencryptEndpoints(options: {
  kv: KV;
  /** The bucket's name (hooklineNames(prefix).kv.endpoints): writes go to $KV.<bucket>.<id>. */
  bucket: string;
  js: JetStreamClient;
  box: SecretBox;
  logger: Logger;
}): Promise<ReencryptReport> {
  const { kv, js, box, logger } = options;
  const report: ReencryptReport = {
    kid: box.sealingKid,
    records: 0,
    resealed: 0,
    values: 0,
    unchanged: 0,
    failed: 0,
  };

  const reencrypt = async (id: string): Promise<RecordOutcome> => {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const entry = await kv.get(id);
      if (entry === null || entry.operation !== "PUT") return { outcome: "gone" };
      const parsed = endpointRecordSchema.safeParse(entry.json());
      if (!parsed.success) {
        logger.error({ endpointId: id, error: parsed.error.message }, "record fails the schema");
        return { outcome: "failed" };
      }
      const result = resealEndpointRecord(box, parsed.data);
      if (result.outcome === "unchanged") return result;
      if (result.outcome === "unopenable") {
        // The message names the field and kid, never a value.
        logger.error({ endpointId: id, err: result.error }, "a value does not open");
        return { outcome: "failed" };
      }
      try {
        // kv.update with a rollup: the same compare-and-set on the key's last revision.
        const headers = natsHeaders();
        headers.set("Nats-Rollup", "sub");
        await js.publish(`$KV.${options.bucket}.${id}`, JSON.stringify(result.record), {
          headers,
          expect: { lastSubjectSequence: entry.revision },
        });
        return { outcome: "resealed", values: result.values };
      } catch (error) {
        if (!isRevisionConflict(error)) throw error;
      }
    }
    logger.error({ endpointId: id }, "other writers kept changing the record; run again");
    return { outcome: "failed" };
  };

  const ids: string[] = [];
  for await (const id of await kv.keys()) ids.push(id);
  for (const id of ids) {
    const done = await reencrypt(id);
    if (done.outcome === "gone") continue;
    report.records++;
    if (done.outcome === "resealed") {
      report.resealed++;
      report.values += done.values;
    } else if (done.outcome === "unchanged") report.unchanged++;
    else report.failed++;
  }
  return report;
}
