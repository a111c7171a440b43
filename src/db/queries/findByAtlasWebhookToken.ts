import { eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/** The job whose webhook URL carries the token with this hash (see atlas/webhooks/token.ts). */
export async function findByAtlasWebhookToken(
  db: Db,
  tokenHash: string,
): Promise<Pick<PredictionRow, 'id' | 'upstreamId' | 'status'> | undefined> {
  const [row] = await db
    .select({ id: predictions.id, upstreamId: predictions.upstreamId, status: predictions.status })
    .from(predictions)
    .where(eq(predictions.atlasWebhookTokenHash, tokenHash))
    .limit(1);
  return row;
}
