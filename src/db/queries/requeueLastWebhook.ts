import { randomUUID } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type WebhookOutboxRow, webhookOutbox } from '../schema.ts';
import { notifyWebhookQueued } from './enqueueWebhook.ts';

/**
 * Queue the prediction's last webhook event once more: the same event and body, as a new message (a
 * new webhook-id, so a receiver that drops repeats by id takes it) with retries of its own.
 * Undefined when the prediction has had no event yet.
 */
export async function requeueLastWebhook(
  db: Db,
  predictionId: string,
  now = new Date(),
): Promise<WebhookOutboxRow | undefined> {
  return db.transaction(async (tx) => {
    const [last] = await tx
      .select()
      .from(webhookOutbox)
      .where(eq(webhookOutbox.predictionId, predictionId))
      .orderBy(desc(webhookOutbox.createdAt), desc(webhookOutbox.id))
      .limit(1);
    if (!last) return undefined;
    const [queued] = await tx
      .insert(webhookOutbox)
      .values({
        id: randomUUID(),
        predictionId,
        event: last.event,
        url: last.url,
        body: last.body,
        createdAt: now,
        nextAttemptAt: now,
      })
      .returning();
    await notifyWebhookQueued(tx);
    return queued;
  });
}
