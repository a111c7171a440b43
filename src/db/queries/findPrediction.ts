import { eq, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/** Prepared once per database handle: the hottest read skips query building (and Postgres re-planning). */
const prepared = new WeakMap<Db, { execute(values: { id: string }): Promise<PredictionRow[]> }>();

/** The prediction with this id, whoever owns it (callers check who may see it: see canSee). */
export async function findPrediction(db: Db, id: string): Promise<PredictionRow | undefined> {
  let query = prepared.get(db);
  if (!query) {
    query = db
      .select()
      .from(predictions)
      .where(eq(predictions.id, sql.placeholder('id')))
      .prepare('find_prediction');
    prepared.set(db, query);
  }
  const [row] = await query.execute({ id });
  return row;
}
