import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type WebhookEventKind, webhookOutbox } from '../schema.ts';

/** Deliverers LISTEN here; a notice (empty: they claim whatever is due) comes only on commit. */
export const WEBHOOK_CHANNEL = 'webhook_outbox';

/** One message for a caller's webhook, its body fixed now (see webhooks/outbound/event.ts). */
export interface WebhookMessage {
  predictionId: string;
  event: WebhookEventKind;
  url: string;
  /** The exact JSON every attempt signs and sends. */
  body: string;
  /** When the change it reports happened: the message is due from then. */
  at: Date;
}

/**
 * Queue a webhook message. Call it in the transaction that makes the change it reports: the message
 * exists exactly when the change does.
 */
export async function enqueueWebhook(tx: Db, { predictionId, event, url, body, at }: WebhookMessage): Promise<void> {
  await tx.insert(webhookOutbox).values({
    id: randomUUID(),
    predictionId,
    event,
    url,
    body,
    createdAt: at,
    nextAttemptAt: at,
  });
  await notifyWebhookQueued(tx);
}

export async function notifyWebhookQueued(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_notify(${WEBHOOK_CHANNEL}, '')`);
}
