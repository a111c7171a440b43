import type { Db } from '../database.ts';
import { noticeOf, notifyPredictionChanged } from '../notify.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';

/** With a notice: the owner's other streams (myPredictionsUpdated) hear of the new job. */
export async function insertPrediction(db: Db, values: NewPredictionRow): Promise<PredictionRow> {
  const [row] = await db.insert(predictions).values(values).returning();
  await notifyPredictionChanged(db, noticeOf(row!));
  return row!;
}

/**
 * The row, unless the caller already has a prediction under its idempotency key (the unique index on
 * owner, tenant and key): then undefined, and nothing is stored. Lets twins race without a lock.
 */
export async function insertPredictionUnlessKeyTaken(
  db: Db,
  values: NewPredictionRow,
): Promise<PredictionRow | undefined> {
  const [row] = await db.insert(predictions).values(values).onConflictDoNothing().returning();
  if (row) await notifyPredictionChanged(db, noticeOf(row));
  return row;
}
