import type { Db } from '../database.ts';
import { atlasWebhookDeliveries } from '../schema.ts';

/**
 * Note a verified delivery by its X-AtlasCloud-Webhook-Id and the hash of its body. False when that
 * id, or that body for this job, was noted before, by this or any other gateway process (the unique
 * indexes decide): the delivery is a repeat. The id is not signed, so a replay of the signed body
 * under a new id is recognised by the body. Run it in the transaction that applies the delivery, so
 * a failed apply leaves no note behind.
 */
export async function recordAtlasWebhookDelivery(
  db: Db,
  {
    deliveryId,
    predictionId,
    bodySha256,
    receivedAt,
  }: { deliveryId: string; predictionId: string; bodySha256: string; receivedAt: Date },
): Promise<boolean> {
  const inserted = await db
    .insert(atlasWebhookDeliveries)
    .values({ deliveryId, predictionId, bodySha256, receivedAt })
    // No target: a conflict on either unique index (the id, or the job and body) makes it a repeat.
    .onConflictDoNothing()
    .returning({ deliveryId: atlasWebhookDeliveries.deliveryId });
  return inserted.length === 1;
}
