import { and, eq, getColumns, inArray, isNull, sql } from 'drizzle-orm';
// biome-ignore lint/style/noRestrictedImports: business rules in db/, until the state machine moves to predictions/ (issue 16)
import { isCharged } from '../../predictions/pricing.ts';
// biome-ignore lint/style/noRestrictedImports: business rules in db/, until the state machine moves to predictions/ (issue 16)
import { isTerminal } from '../../predictions/status.ts';
// biome-ignore lint/style/noRestrictedImports: business rules in db/, until the state machine moves to predictions/ (issue 16)
import { eventOfChange } from '../../webhooks/outbound/event.ts';
import type { Db } from '../database.ts';
import { notifyPredictionChanged } from '../notify.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';
import { enqueueWebhook } from './enqueueWebhook.ts';

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

/** What updatePrediction writes: a change, plus the mirroring columns it sets itself. */
type Write = PredictionChange & Partial<Pick<NewPredictionRow, 'sourceUrls' | 'sourceReadyAt' | 'mirrorNextAt'>>;

/**
 * Apply a visible change to an unfinished prediction and announce it (a notice, and the caller's
 * webhook message if they asked for this event), atomically.
 * A finished prediction never changes again: then nothing is written and this returns undefined.
 * Finishing fixes what the job cost: its price if it counts as charged, else nothing.
 * A poller passes the `lease` its claim wrote to next_poll_at: once another poller has claimed the
 * row (or it was rescheduled), that no longer matches, and likewise nothing is written or announced.
 *
 * A job whose outputs are to be copied (mirror_outputs) does not become SUCCEEDED here: it stays
 * PROCESSING with Atlas' links in source_urls and its copy due, and the mirror worker makes it
 * SUCCEEDED with the copy (see mirror/worker.ts). So every path that applies a success (polling, the
 * create reply, a webhook) holds it the same way, and subscribers never get a videoUrl that changes.
 */
export async function updatePrediction(
  db: Db,
  id: string,
  change: PredictionChange,
  { lease }: { lease?: Date } = {},
): Promise<PredictionRow | undefined> {
  return db.transaction(async (tx) => {
    let write: Write = change;
    let holdForCopy = false;
    if (change.status === 'SUCCEEDED') {
      const [target] = await tx
        .select({ mirrorOutputs: predictions.mirrorOutputs })
        .from(predictions)
        .where(eq(predictions.id, id));
      holdForCopy = target?.mirrorOutputs === true;
      const { status: _succeeded, completedAt: _completed, outputs, ...rest } = change;
      write = holdForCopy
        ? {
            ...rest,
            status: 'PROCESSING',
            sourceUrls: outputs ?? [],
            sourceReadyAt: new Date(),
            mirrorNextAt: new Date(),
            nextPollAt: null,
          }
        : { ...change, sourceUrls: outputs ?? [] };
    } else if (change.status && isTerminal(change.status)) {
      // A job that ends otherwise while its copy waits (cancelled) has nothing left to copy.
      write = { ...change, mirrorNextAt: null };
    }
    // The row as it was, locked: its status says which webhook event this change is.
    const before = tx
      .select({ id: predictions.id, status: predictions.status })
      .from(predictions)
      .where(
        and(
          eq(predictions.id, id),
          inArray(predictions.status, ['STARTING', 'PROCESSING']),
          lease ? eq(predictions.nextPollAt, lease) : undefined,
          // A second report of the same success (a webhook and a poll) must not restart the copy.
          holdForCopy ? isNull(predictions.sourceReadyAt) : undefined,
        ),
      )
      .for('update')
      .as('before');
    const [updated] = await tx
      .update(predictions)
      .set({
        ...write,
        ...(write.status && isTerminal(write.status)
          ? { costUsd: isCharged(write.status, write.errorCode) ? sql`${predictions.priceUsd}` : 0 }
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
