import { type Kysely, type Migration, sql } from "kysely";

/**
 * The attempt log: one row per attempt, and each event's body once. Both are partitioned by
 * day (declaratively, on their time column); the service creates partitions ahead and drops
 * whole ones past ATTEMPT_RETENTION_DAYS (attempt-log/partitions.ts), so retention is never a
 * big DELETE. Parents only here: partitions are named and bounded by the day they hold.
 */
export const createAttemptLog: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      create table attempts (
        attempted_at timestamptz(3) not null,
        -- the record's Nats-Msg-Id, <taskId>#<pass>@<dispatchSeq>: unique per attempt, and the
        -- same when a record is delivered twice
        attempt_id text not null,
        tenant_id text not null,
        event_id text not null,
        event_type text not null,
        endpoint_id text not null,
        task_id text not null,
        attempt integer not null,
        result text not null,
        status integer,
        error text,
        response_body text,
        duration_ms integer not null,
        replay_of text,
        -- null on successes; retry, deadletter or ignore on failures (the classifier's)
        decision text,
        next_attempt_at timestamptz(3),
        reason text,
        event_created_at timestamptz(3) not null,
        logged_at timestamptz(3) not null default now(),
        primary key (attempted_at, attempt_id)
      ) partition by range (attempted_at)
    `.execute(db);
    // Event id first: an unbound token may look an event up without naming its tenant.
    await sql`create index attempts_event_idx on attempts (event_id, tenant_id)`.execute(db);
    // No tenant index: every index costs every logged row. A tenant's page walks the primary
    // key newest first with the tenant as a filter, in the partitions its time bounds leave.
    await sql`
      create index attempts_endpoint_page_idx
        on attempts (endpoint_id, attempted_at desc, attempt_id desc)
    `.execute(db);

    await sql`
      create table event_bodies (
        tenant_id text not null,
        event_id text not null,
        -- when ingest accepted the event: the same on every task of it
        created_at timestamptz(3) not null,
        event_type text not null,
        body bytea not null,
        primary key (tenant_id, event_id, created_at)
      ) partition by range (created_at)
    `.execute(db);
  },

  async down(db: Kysely<unknown>) {
    await sql`drop table event_bodies`.execute(db);
    await sql`drop table attempts`.execute(db);
  },
};
