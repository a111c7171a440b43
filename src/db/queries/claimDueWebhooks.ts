import { and, asc, eq, isNotNull, lte, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type WebhookOutboxRow, webhookOutbox } from '../schema.ts';

export interface ClaimedWebhook {
  message: WebhookOutboxRow;
  /**
   * The lease: the next_attempt_at this claim wrote, and the fence of the write that records the
   * attempt. Once another deliverer has claimed the message that value is gone, and the write changes nothing.
   */
  lease: Date;
}

/**
 * Take up to `limit` messages due by `now`, oldest due first, and lease them until `leaseUntil`. SKIP
 * LOCKED lets every gateway claim at once without two taking one message; a deliverer that dies
 * holding a lease lets it run out, and another takes the message up.
 */
export async function claimDueWebhooks(
  db: Db,
  { limit, now, leaseUntil }: { limit: number; now: Date; leaseUntil: Date },
): Promise<ClaimedWebhook[]> {
  const due = db
    .select({ id: webhookOutbox.id })
    .from(webhookOutbox)
    .where(and(isNotNull(webhookOutbox.nextAttemptAt), lte(webhookOutbox.nextAttemptAt, now)))
    .orderBy(asc(webhookOutbox.nextAttemptAt))
    .limit(limit)
    .for('update', { skipLocked: true })
    .as('due');
  const claimed = await db
    .update(webhookOutbox)
    .set({ nextAttemptAt: leaseUntil })
    .from(due)
    .where(eq(webhookOutbox.id, due.id))
    .returning();
  return claimed.map((message) => ({ message, lease: leaseUntil }));
}

/** Hand back every message a claim leased with `lease`, due now: for a claim whose answer never came. */
export async function releaseWebhookLease(db: Db, lease: Date): Promise<void> {
  await db.update(webhookOutbox).set({ nextAttemptAt: sql`now()` }).where(eq(webhookOutbox.nextAttemptAt, lease));
}
