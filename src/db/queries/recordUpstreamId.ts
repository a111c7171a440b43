import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { ErrorCode } from '../../errorCodes.ts';
import type { Db } from '../database.ts';
import { notifyPredictionChanged } from '../notify.ts';
import { type PredictionRow, predictions } from '../schema.ts';
import { enqueueWebhook } from './enqueueWebhook.ts';

/**
 * Store the upstream id of a job whose row was already ended without one (taken as lost while its
 * submitter could not write), and let the poller find out how the job really ends: a row ended as
 * SUBMISSION_UNKNOWN runs again; one ended otherwise (cancelled, say) keeps its end but gets the id.
 * Undefined if the row already has an upstream id, or is gone.
 */
export async function recordLateUpstreamId(
  db: Db,
  id: string,
  {
    upstreamId,
    requestId,
    now,
    nextPollAt,
  }: { upstreamId: string; requestId: string | null; now: Date; nextPollAt: Date },
): Promise<PredictionRow | undefined> {
  return db.transaction(async (tx) => {
    const unknown = and(
      eq(predictions.id, id),
      isNull(predictions.upstreamId),
      eq(predictions.errorCode, ErrorCode.SUBMISSION_UNKNOWN),
    );
    const [revived] = await tx
      .update(predictions)
      .set({
        upstreamId,
        upstreamRequestId: requestId,
        status: 'PROCESSING',
        error: null,
        errorCode: null,
        completedAt: null,
        costUsd: null,
        nextPollAt,
        pollFailures: 0,
        updatedAt: now,
        version: sql`${predictions.version} + 1`,
      })
      .where(and(unknown, inArray(predictions.status, ['FAILED'])))
      .returning();
    if (revived) {
      await notifyPredictionChanged(tx, { id: revived.id, version: revived.version });
      // Taken for lost, it runs after all: to the caller's backend, it has started (again).
      await enqueueWebhook(tx, revived, 'STARTED');
      return revived;
    }
    const [row] = await tx
      .update(predictions)
      .set({ upstreamId, upstreamRequestId: requestId, updatedAt: now, version: sql`${predictions.version} + 1` })
      .where(and(eq(predictions.id, id), isNull(predictions.upstreamId)))
      .returning();
    if (row) {
      await notifyPredictionChanged(tx, { id: row.id, version: row.version });
      await enqueueWebhook(tx, row, 'UPDATED');
    }
    return row;
  });
}
