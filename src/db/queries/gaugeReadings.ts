import { inArray, sql } from 'drizzle-orm';
import { UNFINISHED_STATUSES } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { executedRows } from '../rows.ts';
import { predictions } from '../schema.ts';

export interface GaugeReadings {
  /** STARTING or PROCESSING jobs in the whole database. */
  unfinishedJobs: number;
  /** Connections named `applicationName` running a query or inside a transaction, this one left out. */
  connectionsInUse: number | undefined;
  /** Of the jobs being polled, the longest any has gone unpolled beyond its interval, in seconds; 0 when none is late. */
  pollOverdueSeconds: number;
}

/** The poller's intervals (see poller.ts): what a job's gap between polls should be. */
export interface PollIntervals {
  pollIntervalMs: number;
  /** For jobs with an Atlas webhook; pollIntervalMs when unset. */
  webhookPollIntervalMs: number | undefined;
  /** The cap of the backoff after failed status calls. */
  maxBackoffMs: number;
}

/**
 * What /metrics reads from the database, in one statement. Unfinished rows being polled are exactly
 * those with a next_poll_at (it is cleared when a job ends), so the scan starts from the small
 * partial index of due rows, not the table. Connections in use come from pg_stat_activity, as postgres.js exposes no pool
 * state (porsager/postgres#443); without an `applicationName` (PGlite) that part is skipped.
 */
export async function readGauges(
  db: Db,
  applicationName: string | undefined,
  intervals: PollIntervals,
): Promise<GaugeReadings> {
  const inUse = applicationName
    ? sql`(select count(*) from pg_stat_activity
            where application_name = ${applicationName} and state <> 'idle' and pid <> pg_backend_pid())::int`
    : sql`null::int`;
  // A job's expected gap: its interval, doubled per failed status call up to the backoff cap, as the poller does.
  const interval = sql`(case when atlas_webhook_token_hash is not null
      then ${(intervals.webhookPollIntervalMs ?? intervals.pollIntervalMs) / 1000}::float8 else ${intervals.pollIntervalMs / 1000}::float8 end)`;
  const expected = sql`(case when poll_failures > 0
      then least(${intervals.maxBackoffMs / 1000}::float8, ${interval} * power(2, least(poll_failures, 10))) else ${interval} end)`;
  // Only rows with an upstream id are polled: one without is being submitted, or waits for Atlas' webhook (orphans.ts).
  const result = await db.execute<{ unfinished: number; in_use: number | null; overdue: number }>(sql`
    select count(*)::int as unfinished,
           coalesce(max(greatest(0, extract(epoch from now() - coalesce(polled_at, created_at))::float8 - ${expected}))
             filter (where upstream_id is not null), 0)::float8 as overdue,
           ${inUse} as in_use
      from predictions
     where next_poll_at is not null and ${inArray(predictions.status, UNFINISHED_STATUSES)}`);
  // An aggregate: always one row.
  const row = executedRows<{ unfinished: number; in_use: number | null; overdue: number }>(result)[0]!;
  return {
    unfinishedJobs: Number(row.unfinished),
    connectionsInUse: row.in_use === null ? undefined : Number(row.in_use),
    pollOverdueSeconds: Number(row.overdue),
  };
}
