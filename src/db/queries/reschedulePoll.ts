import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';

export interface Reschedule {
  id: string;
  /** The lease the poller holds (the next_poll_at its claim wrote): the write lands only while the row still has it. */
  lease: Date;
  nextPollAt: Date;
  pollFailures: number;
  /** The raw upstream word; unchanged when absent. */
  upstreamStatus?: string;
}

/**
 * Set when each prediction is next due for polling, and note the raw upstream word: one statement
 * for the whole batch. Not a visible change: no version bump, no notice. Fenced: a row whose lease
 * has passed to another poller (or back to this one, claimed again) is left alone.
 * Returns the ids that were rescheduled.
 */
export async function reschedulePolls(db: Db, polls: readonly Reschedule[]): Promise<string[]> {
  if (polls.length === 0) return [];
  // One JSON parameter rather than VALUES with five per row: any batch size is one short statement.
  // Sent as text: postgres.js would encode a parameter it is told is json a second time.
  const batch = sql`json_to_recordset(${JSON.stringify(polls)}::text::json)
    as v(id uuid, lease timestamptz, "nextPollAt" timestamptz, "pollFailures" integer, "upstreamStatus" text)`;
  const done = await db
    .update(predictions)
    .set({
      nextPollAt: sql`v."nextPollAt"`,
      pollFailures: sql`v."pollFailures"`,
      upstreamStatus: sql`coalesce(v."upstreamStatus", ${predictions.upstreamStatus})`,
    })
    .from(batch)
    .where(and(eq(predictions.id, sql`v.id`), eq(predictions.nextPollAt, sql`v.lease`)))
    .returning({ id: predictions.id });
  return done.map((row) => row.id);
}
