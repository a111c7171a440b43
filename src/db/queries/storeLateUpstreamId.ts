import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { ErrorCode } from '../../errorCodes.ts';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/**
 * Store the upstream id of a job whose row was already ended without one (taken as lost while its
 * submitter could not write), and let the poller find out how the job really ends: a row ended as
 * SUBMISSION_UNKNOWN runs again; one ended otherwise (cancelled, say) keeps its end but gets the id.
 * `revived`: it runs again. Undefined if the row already has an upstream id, or is gone. Announcing
 * the change is the caller's, in the same transaction (see predictions/transitions.ts).
 */
export async function storeLateUpstreamId(
  tx: Db,
  id: string,
  {
    upstreamId,
    requestId,
    now,
    nextPollAt,
  }: { upstreamId: string; requestId: string | null; now: Date; nextPollAt: Date },
): Promise<{ row: PredictionRow; revived: boolean } | undefined> {
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
  if (revived) return { row: revived, revived: true };
  const [row] = await tx
    .update(predictions)
    .set({ upstreamId, upstreamRequestId: requestId, updatedAt: now, version: sql`${predictions.version} + 1` })
    .where(and(eq(predictions.id, id), isNull(predictions.upstreamId)))
    .returning();
  return row && { row, revived: false };
}
