import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type WebhookOutboxRow, webhookAttempts, webhookOutbox } from '../schema.ts';

export interface WebhookAttempt {
  /** Chosen by the deliverer, so writing the same attempt again (after a lost answer) records it once. */
  id: string;
  attemptedAt: Date;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  delivered: boolean;
  /** When to try again; null: delivered, or given up (see `gaveUp`). */
  nextAttemptAt: Date | null;
  gaveUp: boolean;
}

/**
 * Write down one attempt and what follows from it, in one transaction. The attempt is always recorded
 * (it happened, and callers audit it); the message's state moves only while this deliverer still
 * holds its lease. Returns whether it did.
 */
export async function recordWebhookAttempt(
  db: Db,
  { message, lease }: { message: Pick<WebhookOutboxRow, 'id' | 'predictionId' | 'event'>; lease: Date },
  attempt: WebhookAttempt,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx
      .insert(webhookAttempts)
      .values({
        id: attempt.id,
        messageId: message.id,
        predictionId: message.predictionId,
        event: message.event,
        attemptedAt: attempt.attemptedAt,
        httpStatus: attempt.httpStatus,
        error: attempt.error,
        durationMs: attempt.durationMs,
        delivered: attempt.delivered,
        nextAttemptAt: attempt.nextAttemptAt,
      })
      .onConflictDoNothing();
    const moved = await tx
      .update(webhookOutbox)
      .set({
        nextAttemptAt: attempt.nextAttemptAt,
        attempts: sql`${webhookOutbox.attempts} + 1`,
        ...(attempt.delivered ? { deliveredAt: new Date(attempt.attemptedAt.getTime() + attempt.durationMs) } : {}),
        ...(attempt.gaveUp ? { gaveUpAt: new Date() } : {}),
      })
      .where(and(eq(webhookOutbox.id, message.id), eq(webhookOutbox.nextAttemptAt, lease)))
      .returning({ id: webhookOutbox.id });
    return moved.length > 0;
  });
}

/** Give a claimed message back, due now, without an attempt (the deliverer is stopping). Fenced like the above. */
export async function releaseWebhook(
  db: Db,
  { message, lease }: { message: Pick<WebhookOutboxRow, 'id'>; lease: Date },
): Promise<void> {
  await db
    .update(webhookOutbox)
    .set({ nextAttemptAt: new Date() })
    .where(and(eq(webhookOutbox.id, message.id), eq(webhookOutbox.nextAttemptAt, lease)));
}
