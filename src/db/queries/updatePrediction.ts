import { and, eq, getColumns, inArray, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { isCharged } from '../../predictions/pricing.ts';
import { isTerminal } from '../../predictions/status.ts';
import { eventOfChange } from '../../webhooks/outbound/event.ts';
import { notifyPredictionChanged } from '../notify.ts';
import { enqueueWebhook } from './enqueueWebhook.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';

export type PredictionChange = Partial<
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
  >
>;

/**
 * Apply a visible change to an unfinished prediction and announce it (a notice, and the caller's
 * webhook message if they asked for this event), atomically.
 * A finished prediction never changes again: then nothing is written and this returns undefined.
 * Finishing fixes what the job cost: its price if it counts as charged, else nothing.
 * A poller passes the `lease` its claim wrote to next_poll_at: once another poller has claimed the
 * row (or it was rescheduled), that no longer matches, and likewise nothing is written or announced.
 */
export async function updatePrediction(
  db: Db,
  id: string,
  change: PredictionChange,
  { lease }: { lease?: Date } = {},
): Promise<PredictionRow | undefined> {
  return db.transaction(async (tx) => {
    // The row as it was, locked: its status says which webhook event this change is.
    const before = tx
      .select({ id: predictions.id, status: predictions.status })
      .from(predictions)
      .where(
        and(
          eq(predictions.id, id),
          inArray(predictions.status, ['STARTING', 'PROCESSING']),
          lease ? eq(predictions.nextPollAt, lease) : undefined,
        ),
      )
      .for('update')
      .as('before');
    const [updated] = await tx
      .update(predictions)
      .set({
        ...change,
        ...(change.status && isTerminal(change.status)
          ? { costUsd: isCharged(change.status, change.errorCode) ? sql`${predictions.priceUsd}` : 0 }
          : {}),
        updatedAt: new Date(),
        version: sql`${predictions.version} + 1`,
      })
      .from(before)
      .where(eq(predictions.id, before.id))
      .returning({ row: getColumns(predictions), previousStatus: before.status });
    if (!updated) return undefined;
    const { row, previousStatus } = updated;
    await notifyPredictionChanged(tx, { id: row.id, version: row.version });
    await enqueueWebhook(tx, row, eventOfChange(previousStatus, row.status));
    return row;
  });
}
