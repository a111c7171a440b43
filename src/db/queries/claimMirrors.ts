import { and, asc, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import type { PredictionStatus } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/** A copy is made while the job waits for it (PROCESSING), or after it was released with Atlas' links (SUCCEEDED). */
export const COPYABLE_STATUSES = ['PROCESSING', 'SUCCEEDED'] as const satisfies readonly PredictionStatus[];

const claimedColumns = {
  id: predictions.id,
  status: predictions.status,
  sourceUrls: predictions.sourceUrls,
  sourceReadyAt: predictions.sourceReadyAt,
  mirrorAttempts: predictions.mirrorAttempts,
};
export type MirrorJob = Pick<PredictionRow, keyof typeof claimedColumns>;

export interface ClaimedMirror {
  job: MirrorJob;
  /** The mirror_next_at this claim wrote: the fence of every later write about this copy. */
  lease: Date;
}

/**
 * Take up to `limit` copies that are due and lease them until `leaseUntil` (SKIP LOCKED, so gateways
 * claiming at once never take the same one). A gateway that dies mid-copy lets its lease run out,
 * and another one starts the copy again.
 */
export async function claimMirrors(
  db: Db,
  { limit, now, leaseUntil }: { limit: number; now: Date; leaseUntil: Date },
): Promise<ClaimedMirror[]> {
  const due = db
    .select({ id: predictions.id })
    .from(predictions)
    .where(
      and(
        isNotNull(predictions.mirrorNextAt),
        lte(predictions.mirrorNextAt, now),
        inArray(predictions.status, COPYABLE_STATUSES),
      ),
    )
    .orderBy(asc(predictions.mirrorNextAt))
    .limit(limit)
    .for('update', { skipLocked: true })
    .as('due');
  const claimed = await db
    .update(predictions)
    .set({ mirrorNextAt: leaseUntil })
    .from(due)
    .where(eq(predictions.id, due.id))
    .returning(claimedColumns);
  return claimed.map((job) => ({ job, lease: leaseUntil }));
}

/** Hand back every copy a claim leased with `lease`, due now: for a claim whose answer never came. */
export async function releaseMirrorLease(db: Db, lease: Date): Promise<void> {
  await db.update(predictions).set({ mirrorNextAt: sql`now()` }).where(eq(predictions.mirrorNextAt, lease));
}
