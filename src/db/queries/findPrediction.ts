import { and, eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';
import { type Viewer, visibleTo } from './visibility.ts';

/** The prediction with this id; given a viewer, only if they may see it (else it looks unknown). */
export async function findPrediction(db: Db, id: string, viewer?: Viewer): Promise<PredictionRow | undefined> {
  const [row] = await db
    .select()
    .from(predictions)
    .where(and(eq(predictions.id, id), viewer ? visibleTo(viewer) : undefined));
  return row;
}
