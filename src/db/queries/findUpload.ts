import { eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type UploadRow, uploads } from '../schema.ts';

/** The upload with this id, whoever owns it (callers check who may see it: see ownsUpload). */
export async function findUpload(db: Db, id: string): Promise<UploadRow | undefined> {
  const [row] = await db.select().from(uploads).where(eq(uploads.id, id));
  return row;
}

/** Uploads belong to their caller alone: the same subject in another tenant is another caller. */
export function ownsUpload(caller: { id: string; tenantId: string | null }, row: UploadRow): boolean {
  return row.ownerId === caller.id && row.tenantId === caller.tenantId;
}
