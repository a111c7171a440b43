import { and, eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type UploadRow, uploads } from '../schema.ts';

export type UploadVerdict =
  | { status: 'READY'; width: number | null; height: number | null }
  | { status: 'REJECTED'; rejectionReason: string };

/**
 * Record what the check of the bytes found, once: only a PENDING upload changes. The row as it now
 * stands (another settlement's, if one came first), or undefined if it is gone.
 */
export async function settleUpload(db: Db, id: string, verdict: UploadVerdict): Promise<UploadRow | undefined> {
  const [row] = await db
    .update(uploads)
    .set(verdict)
    .where(and(eq(uploads.id, id), eq(uploads.status, 'PENDING')))
    .returning();
  if (row) return row;
  const [current] = await db.select().from(uploads).where(eq(uploads.id, id));
  return current;
}
