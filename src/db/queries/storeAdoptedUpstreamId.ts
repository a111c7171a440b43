import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';

/**
 * Store the upstream id Atlas' signed webhook names for a job that has none: its submitter died
 * between the create call and storing the reply. Only where no id is stored, so a known id is never
 * replaced; the status is left as it is (the receiver applies the delivery next, or leaves a job
 * that already ended as it ended). The id is visible: the caller announces the change in the same
 * transaction (see predictions/transitions.ts). Undefined when the row has an id already (or is gone).
 */
export async function storeAdoptedUpstreamId(
  db: Db,
  id: string,
  { upstreamId, upstreamStatus, now }: { upstreamId: string; upstreamStatus: string | null; now: Date },
): Promise<
  | Pick<
      PredictionRow,
      'id' | 'status' | 'errorCode' | 'version' | 'ownerId' | 'tenantId' | 'nextPollAt' | 'mirrorNextAt'
    >
  | undefined
> {
  const [adopted] = await db
    .update(predictions)
    .set({ upstreamId, upstreamStatus, updatedAt: now, version: sql`${predictions.version} + 1` })
    .where(and(eq(predictions.id, id), isNull(predictions.upstreamId)))
    .returning({
      id: predictions.id,
      status: predictions.status,
      errorCode: predictions.errorCode,
      version: predictions.version,
      ownerId: predictions.ownerId,
      tenantId: predictions.tenantId,
      nextPollAt: predictions.nextPollAt,
      mirrorNextAt: predictions.mirrorNextAt,
    });
  return adopted;
}
