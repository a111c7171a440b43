import { and, asc, eq, isNull, lte } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { uploads } from '../schema.ts';

/** Uploads past their expiry that no job used, oldest first, at most `limit`. */
export async function expiredUploads(
  db: Db,
  now: Date,
  limit: number,
): Promise<{ id: string; storageKey: string; expiresAt: Date }[]> {
  return db
    .select({ id: uploads.id, storageKey: uploads.storageKey, expiresAt: uploads.expiresAt })
    .from(uploads)
    .where(and(lte(uploads.expiresAt, now), isNull(uploads.usedAt)))
    .orderBy(asc(uploads.expiresAt))
    .limit(limit);
}

/** Forget an expired upload, unless a job used it meanwhile. True when the row was deleted. */
export async function deleteExpiredUpload(db: Db, id: string): Promise<boolean> {
  const deleted = await db
    .delete(uploads)
    .where(and(eq(uploads.id, id), isNull(uploads.usedAt)))
    .returning({ id: uploads.id });
  return deleted.length > 0;
}
