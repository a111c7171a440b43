import type { Db } from '../database.ts';
import { atlasWebhookDeliveries } from '../schema.ts';

/**
 * Note a verified delivery by its X-AtlasCloud-Webhook-Id. False when that id was noted before, by
 * this or any other gateway process (the primary key decides): the delivery is a repeat.
 * Run it in the transaction that applies the delivery, so a failed apply leaves no note behind.
 */
export async function recordAtlasWebhookDelivery(
  db: Db,
  { deliveryId, predictionId, receivedAt }: { deliveryId: string; predictionId: string; receivedAt: Date },
): Promise<boolean> {
  const inserted = await db
    .insert(atlasWebhookDeliveries)
    .values({ deliveryId, predictionId, receivedAt })
    .onConflictDoNothing()
    .returning({ deliveryId: atlasWebhookDeliveries.deliveryId });
  return inserted.length === 1;
}
