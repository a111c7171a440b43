import { lt } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { atlasWebhookDeliveries } from '../schema.ts';

/** Forget deliveries older than `before`: a repeat of one that old is refused for its timestamp anyway. */
export async function pruneAtlasWebhookDeliveries(db: Db, before: Date): Promise<number> {
  const deleted = await db
    .delete(atlasWebhookDeliveries)
    .where(lt(atlasWebhookDeliveries.receivedAt, before))
    .returning({ deliveryId: atlasWebhookDeliveries.deliveryId });
  return deleted.length;
}
