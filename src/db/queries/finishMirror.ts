import { and, eq, inArray, sql } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Db } from '../database.ts';
import { notifyPredictionChanged } from '../notify.ts';
import { type PredictionRow, predictions, type StoredOutputFile } from '../schema.ts';
import { enqueueWebhook } from './enqueueWebhook.ts';

/** A job waiting for its copy becomes SUCCEEDED (and is charged) now; one already released keeps its end. */
export const released = {
  status: sql`'SUCCEEDED'::prediction_status`,
  outputs: sql`${predictions.sourceUrls}`,
  completedAt: sql`coalesce(${predictions.completedAt}, now())`,
  costUsd: sql`coalesce(${predictions.costUsd}, ${predictions.priceUsd})`,
};

/** What a mirror write left: the row, and whether it ended the job (a waiting job became SUCCEEDED). */
export interface MirrorWrite {
  row: PredictionRow;
  released: boolean;
}

/**
 * The copy is done: record the files, make the job SUCCEEDED if it was waiting, and announce it, in
 * one transaction. Fenced by the copy lease; undefined when another gateway has the copy (or the job
 * was cancelled meanwhile), and then nothing is written.
 */
export function finishMirror(
  db: Db,
  id: string,
  lease: Date,
  files: StoredOutputFile[],
): Promise<MirrorWrite | undefined> {
  return writeMirror(db, id, lease, {
    ...released,
    outputFiles: files,
    mirroredAt: new Date(),
    mirrorError: null,
    mirrorNextAt: null,
  });
}

/**
 * The one write a copy ends with (finishMirror, recordMirrorFailure): fenced by the copy lease, a
 * version bump and a notice, and, when it releases a job that was waiting for its copy, that job's
 * COMPLETED webhook, all in one transaction.
 */
export async function writeMirror(
  db: Db,
  id: string,
  lease: Date,
  set: PgUpdateSetSource<typeof predictions>,
): Promise<MirrorWrite | undefined> {
  return db.transaction(async (tx) => {
    // Locked as it was: whether this write is what ends the job.
    const [before] = await tx
      .select({ status: predictions.status })
      .from(predictions)
      .where(eq(predictions.id, id))
      .for('update');
    const [row] = await tx
      .update(predictions)
      .set({ ...set, updatedAt: new Date(), version: sql`${predictions.version} + 1` })
      .where(
        and(
          eq(predictions.id, id),
          eq(predictions.mirrorNextAt, lease),
          inArray(predictions.status, ['PROCESSING', 'SUCCEEDED']),
        ),
      )
      .returning();
    if (!row) return undefined;
    await notifyPredictionChanged(tx, { id: row.id, version: row.version });
    const ended = before?.status === 'PROCESSING' && row.status === 'SUCCEEDED';
    if (ended) await enqueueWebhook(tx, row, 'COMPLETED');
    return { row, released: ended };
  });
}
