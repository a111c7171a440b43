import { eq, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { uploads } from '../schema.ts';

/** Advisory lock space for handing one upload to Atlas' uploadMedia (apart from 7301 to 7303). */
const UPLOAD_HANDOFF = 7304;

/**
 * Serialise the hand-off of one upload to Atlas across every gateway process until the transaction
 * ends, so whoever holds it can read `atlas_download_url`, upload if it is unset, and store it.
 * Advisory rather than a row lock: jobs marking the upload used, and the sweeper, do not wait on it.
 */
export async function lockUploadHandoff(tx: Db, uploadId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${UPLOAD_HANDOFF}, hashtext(${uploadId}))`);
}

/** Keep Atlas' URL for the upload's bytes; a URL stored first stays. The stored one, or undefined if the upload is gone. */
export async function rememberAtlasDownloadUrl(db: Db, uploadId: string, url: string): Promise<string | undefined> {
  const [row] = await db
    .update(uploads)
    .set({ atlasDownloadUrl: sql`coalesce(${uploads.atlasDownloadUrl}, ${url})` })
    .where(eq(uploads.id, uploadId))
    .returning({ url: uploads.atlasDownloadUrl });
  return row?.url ?? undefined;
}
