import { and, count, gte, lt, type SQL, sql } from 'drizzle-orm';
import type { PredictionStatus } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';
import { type Viewer, visibleTo } from './visibility.ts';

export interface UsageRow {
  ownerId: string;
  tenantId: string | null;
  status: PredictionStatus;
  jobs: number;
  /** Seconds of video asked for. */
  seconds: number;
  /** What finished jobs were charged. */
  costUsd: number;
  /** The price of jobs still unfinished. */
  reservedUsd: number;
}

/**
 * Jobs created in [from, to), per owner and status, among the rows the viewer may see (or only
 * the viewer's own with `ownOnly`).
 */
export function usageByOwnerAndStatus(
  db: Db,
  range: { from: Date; to: Date },
  viewer: Viewer,
  ownOnly: boolean,
): Promise<UsageRow[]> {
  const own: SQL | undefined = visibleTo(ownOnly ? { ...viewer, admin: false } : viewer);
  return db
    .select({
      ownerId: predictions.ownerId,
      tenantId: predictions.tenantId,
      status: predictions.status,
      jobs: count(),
      seconds: sql<number>`coalesce(sum(${predictions.duration}), 0)`.mapWith(Number),
      costUsd: sql<number>`coalesce(sum(${predictions.costUsd}), 0)`.mapWith(Number),
      reservedUsd:
        sql<number>`coalesce(sum(${predictions.priceUsd}) filter (where ${predictions.costUsd} is null), 0)`.mapWith(
          Number,
        ),
    })
    .from(predictions)
    .where(and(gte(predictions.createdAt, range.from), lt(predictions.createdAt, range.to), own))
    .groupBy(predictions.ownerId, predictions.tenantId, predictions.status)
    .orderBy(predictions.ownerId, predictions.tenantId, predictions.status);
}
