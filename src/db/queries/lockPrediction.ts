import { eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/** The row as it is, locked (FOR UPDATE) until the transaction ends: what a write next in it decides from. */
export async function lockPrediction(tx: Db, id: string): Promise<PredictionRow | undefined> {
  const [row] = await tx.select().from(predictions).where(eq(predictions.id, id)).for('update');
  return row;
}
