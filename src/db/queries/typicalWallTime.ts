import { and, between, desc, eq, isNotNull, sql } from 'drizzle-orm';
import type { KnownModel } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';

/**
 * The median wall time (created to completed) of the last `recent` jobs of this model that succeeded
 * at this resolution with a duration in [minSeconds, maxSeconds] (any, when null), and how many there were.
 */
export async function typicalWallTime(
  db: Db,
  {
    model,
    resolution,
    minSeconds,
    maxSeconds,
    recent,
  }: { model: KnownModel; resolution: string; minSeconds: number | null; maxSeconds: number | null; recent: number },
): Promise<{ medianMs: number | null; samples: number }> {
  const last = db
    .select({
      ms: sql<number>`extract(epoch from ${predictions.completedAt} - ${predictions.createdAt}) * 1000`.as('ms'),
    })
    .from(predictions)
    .where(
      and(
        eq(predictions.status, 'SUCCEEDED'),
        eq(predictions.model, model),
        eq(predictions.resolution, resolution as '720P'),
        minSeconds === null || maxSeconds === null ? undefined : between(predictions.duration, minSeconds, maxSeconds),
        isNotNull(predictions.completedAt),
      ),
    )
    .orderBy(desc(predictions.completedAt))
    .limit(recent)
    .as('last');
  const [row] = await db
    .select({
      medianMs: sql<number | null>`percentile_cont(0.5) within group (order by ${last.ms})`.mapWith((v) =>
        v === null ? null : Number(v),
      ),
      samples: sql<number>`count(*)`.mapWith(Number),
    })
    .from(last);
  return { medianMs: row?.medianMs ?? null, samples: row?.samples ?? 0 };
}
