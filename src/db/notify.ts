import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from './database.ts';

/** One channel carries every prediction change; payloads name the row, listeners re-read it. */
export const PREDICTION_CHANNEL = 'prediction_updated';

export const PredictionNotice = z.object({ id: z.string(), version: z.number().int() });
export type PredictionNotice = z.infer<typeof PredictionNotice>;

/** Queue a notice; Postgres delivers it only when the surrounding transaction commits. */
export async function notifyPredictionChanged(db: Db, notice: PredictionNotice): Promise<void> {
  await db.execute(sql`select pg_notify(${PREDICTION_CHANNEL}, ${JSON.stringify(notice)})`);
}
