import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from './database.ts';
import { type PredictionRow, predictions } from './schema.ts';

/** One channel carries every prediction change; payloads name the row, listeners re-read it. */
export const PREDICTION_CHANNEL = 'prediction_updated';

/**
 * The owner rides along so a process can tell, without a read, whether anyone watching a caller's
 * jobs (myPredictionsUpdated) cares; optional because a gateway of an older version sends none.
 */
export const PredictionNotice = z.object({
  id: z.string(),
  version: z.number().int(),
  ownerId: z.string().optional(),
  tenantId: z.string().nullable().optional(),
  /**
   * When the row's next poll is due (epoch milliseconds), null when none is: a poller wakes from its
   * idle pace only for a row due before its next claim would find it. Absent from older gateways.
   */
  nextPollAt: z.number().nullable().optional(),
  /** When the row's outputs are next due for copying (epoch ms), null when none is: wakes an idle copier. Absent from older gateways. */
  mirrorNextAt: z.number().nullable().optional(),
});
export type PredictionNotice = z.infer<typeof PredictionNotice>;

/** What a notice says of a row, as written. */
export type NoticedRow = Pick<PredictionRow, 'id' | 'version' | 'ownerId' | 'tenantId' | 'nextPollAt' | 'mirrorNextAt'>;

export function noticeOf(row: NoticedRow): PredictionNotice {
  return {
    id: row.id,
    version: row.version,
    ownerId: row.ownerId,
    tenantId: row.tenantId,
    nextPollAt: row.nextPollAt?.getTime() ?? null,
    mirrorNextAt: row.mirrorNextAt?.getTime() ?? null,
  };
}

/**
 * noticeOf in SQL, queued for each row a statement writes: in its RETURNING, the written row's
 * columns. Lets one statement write many rows and announce each, atomically with them. A field added
 * to PredictionNotice goes here too.
 */
export function notifyWrittenRow(): SQL<string> {
  const p = predictions;
  return sql<string>`pg_notify(${PREDICTION_CHANNEL}, json_build_object(
    'id', ${p.id}, 'version', ${p.version}, 'ownerId', ${p.ownerId}, 'tenantId', ${p.tenantId},
    'nextPollAt', (extract(epoch from ${p.nextPollAt}) * 1000)::bigint,
    'mirrorNextAt', (extract(epoch from ${p.mirrorNextAt}) * 1000)::bigint)::text)`;
}

/** Queue a notice; Postgres delivers it only when the surrounding transaction commits. */
export async function notifyPredictionChanged(db: Db, notice: PredictionNotice): Promise<void> {
  await db.execute(sql`select pg_notify(${PREDICTION_CHANNEL}, ${JSON.stringify(notice)})`);
}
