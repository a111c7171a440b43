import { and, eq, gt, isNotNull, or, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { uploads } from '../schema.ts';

/**
 * A job uses this READY upload: from now on it is kept instead of swept at its expiry. False when it
 * cannot be used (expired meanwhile, or not READY); using it again is fine.
 */
export async function markUploadUsed(db: Db, id: string, at = new Date()): Promise<boolean> {
  const [row] = await db
    .update(uploads)
    .set({ usedAt: sql`coalesce(${uploads.usedAt}, ${at.toISOString()}::timestamptz)` })
    .where(
      and(eq(uploads.id, id), eq(uploads.status, 'READY'), or(isNotNull(uploads.usedAt), gt(uploads.expiresAt, at))),
    )
    .returning({ id: uploads.id });
  return row !== undefined;
}
