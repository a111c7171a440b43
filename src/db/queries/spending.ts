import { and, count, desc, gt, gte, inArray, type SQL, sql } from 'drizzle-orm';
import { UNFINISHED_STATUSES } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';
import { ownedBy, type Viewer } from './visibility.ts';

type Caller = Pick<Viewer, 'id' | 'tenantId'>;

/** Charged plus reserved: what finished jobs cost, and the price of unfinished ones. */
const spent = sql<number>`coalesce(sum(coalesce(${predictions.costUsd}, ${predictions.priceUsd})), 0)`.mapWith(Number);

/** What one caller (or, without one, everyone) has spent or reserved on jobs created since `since`. */
export async function spentSince(db: Db, since: Date, caller?: Caller): Promise<number> {
  const conditions: SQL[] = [gte(predictions.createdAt, since)];
  if (caller !== undefined) conditions.push(ownedBy(caller));
  const [row] = await db
    .select({ usd: spent })
    .from(predictions)
    .where(and(...conditions));
  return row?.usd ?? 0;
}

export async function countActive(db: Db, caller: Caller): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(predictions)
    .where(and(ownedBy(caller), inArray(predictions.status, UNFINISHED_STATUSES)));
  return row?.n ?? 0;
}

/** Creation times of the caller's newest jobs since `since`, newest first, at most `limit`. */
export async function recentSubmissions(db: Db, caller: Caller, since: Date, limit: number): Promise<Date[]> {
  const rows = await db
    .select({ createdAt: predictions.createdAt })
    .from(predictions)
    .where(and(ownedBy(caller), gt(predictions.createdAt, since)))
    .orderBy(desc(predictions.createdAt))
    .limit(limit);
  return rows.map((row) => row.createdAt);
}

export async function countSubmissionsSince(db: Db, caller: Caller, since: Date): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(predictions)
    .where(and(ownedBy(caller), gt(predictions.createdAt, since)));
  return row?.n ?? 0;
}

/**
 * What was spent or reserved since `since`, by everyone and by the caller who spent most (for
 * /metrics, against LIMIT_DAILY_SPEND_USD_TOTAL and LIMIT_DAILY_SPEND_USD).
 */
export async function spendingSince(db: Db, since: Date): Promise<{ totalUsd: number; topCallerUsd: number }> {
  const perCaller = db
    .select({ usd: spent.as('usd') })
    .from(predictions)
    .where(gte(predictions.createdAt, since))
    .groupBy(predictions.ownerId, predictions.tenantId)
    .as('per_caller');
  const [row] = await db
    .select({
      total: sql<number>`coalesce(sum(${perCaller.usd}), 0)`.mapWith(Number),
      top: sql<number>`coalesce(max(${perCaller.usd}), 0)`.mapWith(Number),
    })
    .from(perCaller);
  return { totalUsd: row?.total ?? 0, topCallerUsd: row?.top ?? 0 };
}
