import type { Db } from '../database.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';

/** No notice: nobody can be watching a prediction before it exists. */
export async function insertPrediction(db: Db, values: NewPredictionRow): Promise<PredictionRow> {
  const [row] = await db.insert(predictions).values(values).returning();
  return row!;
}
