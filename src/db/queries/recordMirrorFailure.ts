import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { notifyPredictionChanged } from '../notify.ts';
import { enqueueWebhook } from './enqueueWebhook.ts';
import { predictions } from '../schema.ts';
import { type MirrorWrite, released } from './finishMirror.ts';

/**
 * The copy failed. `release`: a job still waiting becomes SUCCEEDED now with Atlas' links (which
 * `mirrorError` explains). `retryAt`: when to try again; null gives up. Fenced like finishMirror.
 */
export async function recordMirrorFailure(
  db: Db,
  id: string,
  lease: Date,
  { error, release, retryAt }: { error: string; release: boolean; retryAt: Date | null },
): Promise<MirrorWrite | undefined> {
  const waiting = sql`${predictions.status} = 'PROCESSING'`;
  const ifReleased = <T>(value: T, otherwise: unknown) => (release ? sql`case when ${waiting} then ${value} else ${otherwise} end` : sql`${otherwise}`);
  return db.transaction(async (tx) => {
    // Locked as it was: a job waiting for its copy that this write releases ends here, so this is its COMPLETED event.
    const [before] = await tx.select({ status: predictions.status }).from(predictions).where(eq(predictions.id, id)).for('update');
    const [row] = await tx
      .update(predictions)
      .set({
        status: ifReleased(released.status, predictions.status),
        outputs: ifReleased(released.outputs, predictions.outputs),
        completedAt: ifReleased(released.completedAt, predictions.completedAt),
        costUsd: ifReleased(released.costUsd, predictions.costUsd),
        mirrorError: error,
        mirrorAttempts: sql`${predictions.mirrorAttempts} + 1`,
        mirrorNextAt: retryAt,
        updatedAt: new Date(),
        version: sql`${predictions.version} + 1`,
      })
      .where(and(eq(predictions.id, id), eq(predictions.mirrorNextAt, lease), inArray(predictions.status, ['PROCESSING', 'SUCCEEDED'])))
      .returning();
    if (!row) return undefined;
    await notifyPredictionChanged(tx, { id: row.id, version: row.version });
    const ended = before?.status === 'PROCESSING' && row.status === 'SUCCEEDED';
    if (ended) await enqueueWebhook(tx, row, 'COMPLETED');
    return { row, released: ended };
  });
}
