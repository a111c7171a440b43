import { sql } from 'drizzle-orm';
import type { Db } from '../database.ts';

export interface GaugeReadings {
  /** STARTING or PROCESSING jobs in the whole database. */
  unfinishedJobs: number;
  /** Connections named `applicationName` running a query or inside a transaction, this one left out. */
  connectionsInUse: number | undefined;
}

/**
 * What /metrics reads from the database, in one statement. Unfinished rows are exactly those with a
 * next_poll_at (it is cleared when a job ends), so the count walks the small partial index of due
 * rows, not the table. Connections in use come from pg_stat_activity, as postgres.js exposes no pool
 * state (porsager/postgres#443); without an `applicationName` (PGlite) that part is skipped.
 */
export async function readGauges(db: Db, applicationName: string | undefined): Promise<GaugeReadings> {
  const inUse = applicationName
    ? sql`(select count(*) from pg_stat_activity
            where application_name = ${applicationName} and state <> 'idle' and pid <> pg_backend_pid())::int`
    : sql`null::int`;
  const result = await db.execute<{ unfinished: number; in_use: number | null }>(sql`
    select (select count(*) from predictions
             where next_poll_at is not null and status in ('STARTING', 'PROCESSING'))::int as unfinished,
           ${inUse} as in_use`);
  const row = (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows[0]) as { unfinished: number; in_use: number | null };
  return { unfinishedJobs: Number(row.unfinished), connectionsInUse: row.in_use === null ? undefined : Number(row.in_use) };
}
