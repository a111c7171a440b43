import { and, asc, inArray, isNotNull, lte } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/**
 * Take up to `limit` predictions that are due, and lease them by pushing their next poll past
 * `leaseUntil`. SKIP LOCKED lets several gateways claim at once without taking the same row; a
 * gateway that dies holding a lease simply lets it run out, and another one picks the row up.
 */
export async function claimDuePredictions(
  db: Db,
  { limit, now, leaseUntil }: { limit: number; now: Date; leaseUntil: Date },
): Promise<PredictionRow[]> {
  return db.transaction(async (tx) => {
    const due = await tx
      .select({ id: predictions.id })
      .from(predictions)
      .where(and(isNotNull(predictions.nextPollAt), lte(predictions.nextPollAt, now)))
      .orderBy(asc(predictions.nextPollAt))
      .limit(limit)
      .for('update', { skipLocked: true });
    if (due.length === 0) return [];
    return tx
      .update(predictions)
      .set({ nextPollAt: leaseUntil })
      .where(
        inArray(
          predictions.id,
          due.map((row) => row.id),
        ),
      )
      .returning();
  });
}
