import type { Db } from '../database.ts';
import { type NoticedRow, noticeOf, notifyPredictionChanged } from '../notify.ts';
import { enqueueWebhook, type WebhookMessage } from './enqueueWebhook.ts';

/**
 * Announce a visible change, in the transaction that makes it: a notice for subscribers (delivered on
 * commit) and, when the caller's webhook is to hear of it, its outbox message. Every write path that
 * changes a prediction after it was stored ends with this, but for updateUnfinishedPrediction, whose
 * statement queues its own notice (the caller queues only the webhook message).
 */
export async function announcePredictionChange(
  tx: Db,
  row: NoticedRow,
  webhook?: WebhookMessage | undefined,
): Promise<void> {
  await notifyPredictionChanged(tx, noticeOf(row));
  if (webhook) await enqueueWebhook(tx, webhook);
}
