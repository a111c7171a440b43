import { and, count, desc, eq, gt, gte, inArray, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';

/** Charged plus reserved: what finished jobs cost, and the price of unfinished ones. */
const spent = sql<number>`coalesce(sum(coalesce(${predictions.costUsd}, ${predictions.priceUsd})), 0)`.mapWith(Number);

/** What one caller (or, without an owner, everyone) has spent or reserved on jobs created since `since`. */
export async function spentSince(db: Db, since: Date, ownerId?: string): Promise<number> {
  const conditions: SQL[] = [gte(predictions.createdAt, since)];
  if (ownerId !== undefined) conditions.push(eq(predictions.ownerId, ownerId));
  const [row] = await db.select({ usd: spent }).from(predictions).where(and(...conditions));
  return row?.usd ?? 0;
}

export async function countActive(db: Db, ownerId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(predictions)
    .where(and(eq(predictions.ownerId, ownerId), inArray(predictions.status, ['STARTING', 'PROCESSING'])));
  return row?.n ?? 0;
}

/** Creation times of the caller's newest jobs since `since`, newest first, at most `limit`. */
export async function recentSubmissions(db: Db, ownerId: string, since: Date, limit: number): Promise<Date[]> {
  const rows = await db
    .select({ createdAt: predictions.createdAt })
    .from(predictions)
    .where(and(eq(predictions.ownerId, ownerId), gt(predictions.createdAt, since)))
    .orderBy(desc(predictions.createdAt))
    .limit(limit);
  return rows.map((row) => row.createdAt);
}

export async function countSubmissionsSince(db: Db, ownerId: string, since: Date): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(predictions)
    .where(and(eq(predictions.ownerId, ownerId), gt(predictions.createdAt, since)));
  return row?.n ?? 0;
}
