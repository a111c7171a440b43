import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
// biome-ignore lint/style/noRestrictedImports: business rules in db/, until the state machine moves to predictions/ (issue 16)
import { eventBody, wantsEvent } from '../../webhooks/outbound/event.ts';
import type { Db } from '../database.ts';
import { type PredictionRow, type WebhookEventKind, webhookOutbox } from '../schema.ts';

/** Deliverers LISTEN here; a notice (empty: they claim whatever is due) comes only on commit. */
export const WEBHOOK_CHANNEL = 'webhook_outbox';

/**
 * Queue the webhook message for a change, if the prediction's caller asked for this event. Call it in
 * the transaction that makes the change: the message exists exactly when the change does. A prediction
 * without a webhook costs nothing here (no statement).
 */
export async function enqueueWebhook(tx: Db, row: PredictionRow, kind: WebhookEventKind): Promise<void> {
  if (!row.webhookUrl || !wantsEvent(row, kind)) return;
  await tx.insert(webhookOutbox).values({
    id: randomUUID(),
    predictionId: row.id,
    event: kind,
    url: row.webhookUrl,
    body: eventBody(kind, row),
    createdAt: row.updatedAt,
    nextAttemptAt: row.updatedAt,
  });
  await notifyWebhookQueued(tx);
}

export async function notifyWebhookQueued(tx: Db): Promise<void> {
  await tx.execute(sql`select pg_notify(${WEBHOOK_CHANNEL}, '')`);
}
