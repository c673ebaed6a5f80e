import type { JetStreamManager } from "@nats-io/jetstream";

/**
 * Drops every stored revision of a bucket key but the newest, its delete marker: the earlier
 * ones of an endpoint hold its secrets and header values. A stream purge filtered to the key,
 * not kv.purge(): a KV purge is a rollup message, and on nats-server 2.9 a watcher that had not
 * yet received other keys' delete markers skipped them when one landed (a cache, delivery's
 * included, would have kept deleted endpoints). Deleting first and purging after keeps every
 * watcher's view of the marker.
 */
export function keyHistoryPurger(
  jsm: JetStreamManager,
  bucket: string,
): (key: string) => Promise<void> {
  const stream = `KV_${bucket}`;
  const subjectPrefix = `$KV.${bucket}.`;
  return async (key) => {
    await jsm.streams.purge(stream, { filter: `${subjectPrefix}${key}`, keep: 1 });
  };
}
