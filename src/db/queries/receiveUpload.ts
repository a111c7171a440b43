import { and, eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type UploadRow, uploads } from '../schema.ts';

/**
 * Take the one PUT of an upload's bytes: only a PENDING, unexpired upload that no PUT has begun on
 * since `staleBefore` (no request lasts longer than HTTP_REQUEST_TIMEOUT_MS, so an older mark is a PUT
 * whose process died mid-body). Undefined when another PUT has it, or it is settled or expired.
 */
export async function beginReceiving(
  db: Db,
  id: string,
  staleBefore: Date,
  now = new Date(),
): Promise<UploadRow | undefined> {
  const [row] = await db
    .update(uploads)
    .set({ receivingAt: now })
    .where(
      and(
        eq(uploads.id, id),
        eq(uploads.status, 'PENDING'),
        or(isNull(uploads.receivingAt), lt(uploads.receivingAt, staleBefore)),
        gt(uploads.expiresAt, now),
      ),
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
