import { eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

export async function findPrediction(db: Db, id: string): Promise<PredictionRow | undefined> {
  const [row] = await db.select().from(predictions).where(eq(predictions.id, id));
  return row;
}
