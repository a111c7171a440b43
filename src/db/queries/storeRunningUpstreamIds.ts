import { and, eq, getColumns, inArray, isNull, not, or, sql } from 'drizzle-orm';
import { UNFINISHED_STATUSES } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { notifyWrittenRow } from '../notify.ts';
import { type PredictionRow, predictions } from '../schema.ts';
import { visibleChange } from './visibleChange.ts';

/** A create reply that says the job is running: what its row takes. */
export interface RunningUpstreamId {
  id: string;
  upstreamId: string;
  requestId: string | null;
  upstreamStatus: string;
  predictTime: number | null;
  nextPollAt: Date;
}

/**
 * The create replies of several submissions in one statement: each unfinished row becomes PROCESSING
 * with its upstream id, as Transitions.apply would make it, and is announced. Only rows whose webhook
 * (if any) hears of neither STARTED nor UPDATED: those need an outbox message in the transaction, and
 * are left for Transitions.apply, as is a row that has ended meanwhile. The rows written, by id.
 */
export async function storeRunningUpstreamIds(
  db: Db,
  replies: readonly RunningUpstreamId[],
): Promise<Map<string, PredictionRow>> {
  // One JSON parameter, as reschedulePolls does; sent as text, or postgres.js would encode it twice.
  const batch = sql`json_to_recordset(${JSON.stringify(replies)}::text::json)
    as v(id uuid, "upstreamId" text, "requestId" text, "upstreamStatus" text, "predictTime" double precision, "nextPollAt" timestamptz)`;
  const written = await db
    .update(predictions)
    .set(
      visibleChange(
        {
          status: 'PROCESSING' as const,
          upstreamId: sql`v."upstreamId"`,
          upstreamRequestId: sql`v."requestId"`,
          upstreamStatus: sql`v."upstreamStatus"`,
          predictTime: sql`v."predictTime"`,
          nextPollAt: sql`v."nextPollAt"`,
        },
        undefined,
      ),
    )
    .from(batch)
    .where(
      and(
        eq(predictions.id, sql`v.id`),
        inArray(predictions.status, UNFINISHED_STATUSES),
        or(
          isNull(predictions.webhookUrl),
          not(sql`coalesce(${predictions.webhookEvents} && array['STARTED', 'UPDATED']::text[], false)`),
        ),
      ),
    )
    .returning({ ...getColumns(predictions), notified: notifyWrittenRow() });
  return new Map(written.map(({ notified: _, ...row }) => [row.id, row]));
}
