import { and, asc, eq, isNotNull, lte, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/** What polling reads of a row: not the prompt or the other payload, at thousands of rows a second. */
const polled = {
  id: predictions.id,
  status: predictions.status,
  upstreamId: predictions.upstreamId,
  outputs: predictions.outputs,
  predictTime: predictions.predictTime,
  pollFailures: predictions.pollFailures,
  createdAt: predictions.createdAt,
  deadlineAt: predictions.deadlineAt,
  /** A webhook is on its way for this job, so it is polled only as a safety net (less often). */
  hasAtlasWebhook: sql<boolean>`${predictions.atlasWebhookTokenHash} is not null`.mapWith(Boolean),
};
export type PolledRow = Pick<PredictionRow, Exclude<keyof typeof polled, 'hasAtlasWebhook'>> & {
  hasAtlasWebhook: boolean;
};

export interface ClaimedPrediction {
  row: PolledRow;
  /** When the row was due, i.e. its `next_poll_at` before the claim. */
  dueAt: Date;
  /**
   * The lease this claim holds, and the fence token of every later write to the row: a write made
   * with it changes nothing once anyone else has claimed the row. Whatever the poller writes after a
   * claim is later than the value that claim replaced, so a lost lease never matches again.
   */
  lease: Date;
}

/**
 * Take up to `limit` predictions due by `dueBy`, soonest first, and lease them by pushing their next
 * poll to `leaseUntil`. SKIP LOCKED lets several gateways claim at once without taking the same row;
 * a gateway that dies holding a lease simply lets it run out, and another one picks the row up.
 * One statement, so a claim is one round trip.
 */
export async function claimDuePredictions(
  db: Db,
  { limit, dueBy, leaseUntil }: { limit: number; dueBy: Date; leaseUntil: Date },
): Promise<ClaimedPrediction[]> {
  const due = db.$with('due').as(
    db
      .select({ id: predictions.id, dueAt: predictions.nextPollAt })
      .from(predictions)
      .where(and(isNotNull(predictions.nextPollAt), lte(predictions.nextPollAt, dueBy)))
      .orderBy(asc(predictions.nextPollAt))
      .limit(limit)
      .for('update', { skipLocked: true }),
  );
  // The ids again as an array, so the update finds its rows by primary key: joined to `due` alone,
  // the planner read the whole table (a hash join over a sequential scan) on every claim.
  const claimed = await db
    .with(due)
    .update(predictions)
    .set({ nextPollAt: leaseUntil, polledAt: sql`now()` })
    .from(due)
    .where(and(sql`${predictions.id} = any(array(select ${due.id} from ${due}))`, eq(predictions.id, due.id)))
    .returning({ row: polled, dueAt: due.dueAt });
  return (
    claimed
      // dueAt is never null here (the claim takes rows with a next poll); the type cannot know that.
      .map(({ row, dueAt }) => ({ row, dueAt: dueAt ?? leaseUntil, lease: leaseUntil }))
      .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime())
  );
}

/**
 * Hand back every row a claim leased with `lease`, due now: for a claim whose answer never came, so
 * its rows need not wait out the lease. Returns how many there were.
 */
export async function releasePollLease(db: Db, lease: Date): Promise<number> {
  const released = await db
    .update(predictions)
    .set({ nextPollAt: sql`now()` })
    .where(eq(predictions.nextPollAt, lease))
    .returning({ id: predictions.id });
  return released.length;
}
