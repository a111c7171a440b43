import { and, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { apiKeys } from '../schema.ts';

/** Which of these API keys are still active (not revoked): one query for however many streams use them. */
export async function activeApiKeyIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(inArray(apiKeys.id, [...ids]), isNull(apiKeys.revokedAt)));
  return new Set(rows.map((row) => row.id));
}
