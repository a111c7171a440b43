import { and, eq, gte, isNull, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { uploads } from '../schema.ts';

/** Advisory lock space for one caller's uploads (apart from the submissions' 7301 and 7302). */
const CALLER_UPLOADS = 7303;

/**
 * Serialise one caller's createUpload calls across every gateway process until the transaction
 * ends, so the daily byte limit is checked against every upload admitted before.
 */
export async function lockCallerUploads(tx: Db, caller: { id: string; tenantId: string | null }): Promise<void> {
  const key = JSON.stringify([caller.id, caller.tenantId]);
  await tx.execute(sql`select pg_advisory_xact_lock(${CALLER_UPLOADS}, hashtext(${key}))`);
}

/** Bytes the caller declared in uploads created since `since`, whatever became of them. */
export async function uploadBytesSince(
  db: Db,
  caller: { id: string; tenantId: string | null },
  since: Date,
): Promise<number> {
  const [row] = await db
    .select({ bytes: sql<number>`coalesce(sum(${uploads.byteSize}), 0)`.mapWith(Number) })
    .from(uploads)
    .where(
      and(
        eq(uploads.ownerId, caller.id),
        caller.tenantId === null ? isNull(uploads.tenantId) : eq(uploads.tenantId, caller.tenantId),
        gte(uploads.createdAt, since),
      ),
    );
  return row?.bytes ?? 0;
}
