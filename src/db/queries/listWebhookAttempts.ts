import { desc, eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type WebhookAttemptRow, webhookAttempts } from '../schema.ts';

/** The most a prediction lists; a receiver down for a day makes about 30 attempts per message. */
export const MAX_LISTED_ATTEMPTS = 200;

/** A prediction's webhook attempts, oldest first (the latest MAX_LISTED_ATTEMPTS of them). */
export async function listWebhookAttempts(db: Db, predictionId: string): Promise<WebhookAttemptRow[]> {
  const newestFirst = await db
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.predictionId, predictionId))
    .orderBy(desc(webhookAttempts.attemptedAt), desc(webhookAttempts.id))
    .limit(MAX_LISTED_ATTEMPTS);
  return newestFirst.reverse();
}
