import { sql } from 'drizzle-orm';
import type { Db } from '../database.ts';

/** Advisory lock spaces (the two-key form, apart from the one-key migration lock). */
const CALLER_SUBMISSIONS = 7301;
const ALL_SUBMISSIONS = 7302;

/**
 * Serialise one caller's admissions across every gateway process until the transaction ends, so
 * limits and idempotency keys are checked against everything admitted before. Owners whose hashes
 * collide merely wait for each other.
 */
export async function lockCallerSubmissions(tx: Db, caller: { id: string; tenantId: string | null }): Promise<void> {
  const key = JSON.stringify([caller.id, caller.tenantId]);
  await tx.execute(sql`select pg_advisory_xact_lock(${CALLER_SUBMISSIONS}, hashtext(${key}))`);
}

/** Serialise every admission; taken (after the caller's lock) only when a gateway-wide budget is set. */
export async function lockAllSubmissions(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ALL_SUBMISSIONS}, 0)`);
}
