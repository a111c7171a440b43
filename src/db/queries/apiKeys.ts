import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type ApiKeyRow, apiKeys } from '../schema.ts';

export async function insertApiKey(db: Db, values: typeof apiKeys.$inferInsert): Promise<ApiKeyRow> {
  const [row] = await db.insert(apiKeys).values(values).returning();
  return row!;
}

/** The key with this hash, unless it was revoked. Read on every request, so a revocation holds at once everywhere. */
export async function findActiveApiKey(db: Db, keyHash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)));
  return row;
}

export function listApiKeys(db: Db): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
}

/** Revoke a key; false if there is no such key. Revoking twice keeps the first time. */
export async function revokeApiKey(db: Db, id: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now})` })
    .where(eq(apiKeys.id, id))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** How often a key's last use is written at most. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Note a use; at most one write per key a minute, so busy keys do not write on every request. `key` is
 * the row as just read: a use noted within the minute writes nothing (the update would match nothing).
 */
export async function touchApiKey(db: Db, key: Pick<ApiKeyRow, 'id' | 'lastUsedAt'>, now: Date): Promise<void> {
  const since = new Date(now.getTime() - TOUCH_EVERY_MS);
  if (key.lastUsedAt && key.lastUsedAt >= since) return;
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, key.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, since))));
}

/** One key, revoked or not; undefined if there is no such key. */
export async function findApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}
