import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { findActiveApiKey, insertApiKey } from '../db/queries/apiKeys.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import type { CallerLimits } from './principal.ts';

/** Every key starts with this, so a bearer token tells at once whether it is a key or a JWT. */
export const API_KEY_PREFIX = 'hhk_';
/** hhk_ and 43 base64url characters (256 random bits). */
const API_KEY = /^hhk_[A-Za-z0-9_-]{43}$/;

export const isApiKey = (token: string) => token.startsWith(API_KEY_PREFIX);

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface NewApiKey {
  name: string;
  tenantId?: string | null;
  admin?: boolean;
  limits?: CallerLimits;
}

/** Make a key. The key itself is returned once, here; only its hash is stored. */
export async function createApiKey(db: Db, options: NewApiKey): Promise<{ key: string; row: ApiKeyRow }> {
  const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const row = await insertApiKey(db, {
    id: randomUUID(),
    name: options.name,
    keyHash: hashApiKey(key),
    prefix: key.slice(0, API_KEY_PREFIX.length + 6),
    tenantId: options.tenantId ?? null,
    admin: options.admin ?? false,
    limitActiveJobs: options.limits?.activeJobs ?? null,
    limitJobsPerMinute: options.limits?.jobsPerMinute ?? null,
    limitDailySpendUsd: options.limits?.dailySpendUsd ?? null,
  });
  return { key, row };
}

/** The active key this bearer token is, or undefined (malformed, unknown or revoked alike). */
export async function lookUpApiKey(db: Db, token: string): Promise<ApiKeyRow | undefined> {
  if (!API_KEY.test(token)) return undefined;
  return findActiveApiKey(db, hashApiKey(token));
}
