import type { Db } from '../database.ts';
import { type NewUploadRow, type UploadRow, uploads } from '../schema.ts';

export async function insertUpload(db: Db, values: NewUploadRow): Promise<UploadRow> {
  const [row] = await db.insert(uploads).values(values).returning();
  return row!;
}
