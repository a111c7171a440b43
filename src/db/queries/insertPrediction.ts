import { getColumns } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { noticeOf, notifyPredictionChanged, notifyWrittenRow } from '../notify.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';

/** With a notice: the owner's other streams (myPredictionsUpdated) hear of the new job. */
export async function insertPrediction(db: Db, values: NewPredictionRow): Promise<PredictionRow> {
  const [row] = await insertPredictions(db, [values]);
  return row!;
}

/**
 * Several new jobs in one statement, each announced as insertPrediction does; the rows in the order
 * of `values`. All or none: a row the table refuses fails the statement.
 */
export async function insertPredictions(db: Db, values: NewPredictionRow[]): Promise<PredictionRow[]> {
  const inserted = await db
    .insert(predictions)
    .values(values)
    .returning({ ...getColumns(predictions), notified: notifyWrittenRow() });
  const byId = new Map(inserted.map(({ notified: _, ...row }) => [row.id, row]));
  return values.map((each) => byId.get(each.id)!);
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
