import { and, eq, getColumns, inArray, isNull } from 'drizzle-orm';
import { type PredictionStatus, UNFINISHED_STATUSES } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { notifyWrittenRow } from '../notify.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';
import { visibleChange } from './visibleChange.ts';

/** The columns a change to an unfinished prediction may write (the rules are the domain's: predictions/transitions.ts). */
export type UnfinishedWrite = Partial<
  Pick<
    NewPredictionRow,
    | 'status'
    | 'upstreamId'
    | 'upstreamStatus'
    | 'upstreamRequestId'
    | 'outputs'
    | 'error'
    | 'errorCode'
    | 'predictTime'
    | 'completedAt'
    | 'nextPollAt'
    | 'pollFailures'
    | 'sourceUrls'
    | 'sourceReadyAt'
    | 'mirrorNextAt'
  >
> & {
  /** Fix what the job cost: its price (true) or nothing (false); left as it is when absent. */
  charged?: boolean;
};

export interface UnfinishedFence {
  /** The next_poll_at a poller's claim wrote: once another poller has claimed the row (or it was rescheduled), nothing is written. */
  lease?: Date | undefined;
  /** Only while Atlas' outputs have not been reported (source_ready_at is null). */
  outputsUnreported?: boolean;
}

/**
 * Write to a prediction that is still unfinished (STARTING or PROCESSING), fenced by `fence`, with a
 * version bump. The row is locked as it was, so the answer says what it changed from. Undefined, and
 * nothing written, when the row has finished (or is gone) or the fence has moved.
 *
 * The statement queues the change's notice itself (notifyWrittenRow), so that on the hottest write
 * path (create replies, polls that see a change, cancels) a change with no webhook message to queue is
 * one statement, atomic without a transaction around it. A webhook message is the caller's, in the
 * same transaction (enqueueWebhook).
 */
export async function updateUnfinishedPrediction(
  tx: Db,
  id: string,
  { charged, ...write }: UnfinishedWrite,
  { lease, outputsUnreported }: UnfinishedFence = {},
): Promise<{ row: PredictionRow; previousStatus: PredictionStatus } | undefined> {
  const before = tx
    .select({ id: predictions.id, status: predictions.status })
    .from(predictions)
    .where(
      and(
        eq(predictions.id, id),
        inArray(predictions.status, UNFINISHED_STATUSES),
        lease ? eq(predictions.nextPollAt, lease) : undefined,
        outputsUnreported ? isNull(predictions.sourceReadyAt) : undefined,
      ),
    )
    .for('update')
    .as('before');
  const [updated] = await tx
    .update(predictions)
    .set(visibleChange(write, charged))
    .from(before)
    .where(eq(predictions.id, before.id))
    .returning({ row: getColumns(predictions), previousStatus: before.status, notified: notifyWrittenRow() });
  return updated && { row: updated.row, previousStatus: updated.previousStatus };
}
