import { and, eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';
import { ownedBy, type Viewer } from './visibility.ts';

/** Keys belong to one caller: the same subject in another tenant has keys of its own. */
export async function findByIdempotencyKey(
  db: Db,
  caller: Pick<Viewer, 'id' | 'tenantId'>,
  key: string,
): Promise<PredictionRow | undefined> {
  const [row] = await db
    .select()
    .from(predictions)
    .where(and(ownedBy(caller), eq(predictions.idempotencyKey, key)));
  return row;
}

/** Free an expired key for reuse: the old prediction stays, without its key. */
export async function releaseIdempotencyKey(db: Db, id: string): Promise<void> {
  await db.update(predictions).set({ idempotencyKey: null }).where(eq(predictions.id, id));
}
