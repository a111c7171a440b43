import { and, eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';

/**
 * Move a held copy lease to `until` (later, while copying; now, to hand it back on shutdown).
 * False when the lease is no longer `lease`: another gateway has the copy, so this one must stop.
 */
export async function extendMirrorLease(db: Db, id: string, lease: Date, until: Date): Promise<boolean> {
  const rows = await db
    .update(predictions)
    .set({ mirrorNextAt: until })
    .where(and(eq(predictions.id, id), eq(predictions.mirrorNextAt, lease)))
    .returning({ id: predictions.id });
  return rows.length > 0;
}
