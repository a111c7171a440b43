import type { Db } from '../database.ts';
import { notifyPredictionChanged } from '../notify.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';

export async function insertPrediction(db: Db, values: NewPredictionRow): Promise<PredictionRow> {
  return db.transaction(async (tx) => {
    const [row] = await tx.insert(predictions).values(values).returning();
    await notifyPredictionChanged(tx, { id: row!.id, version: row!.version });
    return row!;
  });
}
