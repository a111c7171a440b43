import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type UploadRow, uploads } from '../schema.ts';

/**
 * Take the one PUT of an upload's bytes: only a PENDING, unexpired upload that no PUT has begun on.
 * Undefined when another PUT has (or had) it, or it is settled or expired.
 */
export async function beginReceiving(db: Db, id: string, now = new Date()): Promise<UploadRow | undefined> {
  const [row] = await db
    .update(uploads)
    .set({ receivingAt: now })
    .where(
      and(eq(uploads.id, id), eq(uploads.status, 'PENDING'), isNull(uploads.receivingAt), gt(uploads.expiresAt, now)),
    )
    .returning();
  return row;
}

/** The client went away mid-body (or storage failed): the upload may be sent again. */
export async function stopReceiving(db: Db, id: string): Promise<void> {
  await db
    .update(uploads)
    .set({ receivingAt: null })
    .where(and(eq(uploads.id, id), eq(uploads.status, 'PENDING')));
}
