import { sql } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';
import { type MirrorWrite, released, writeMirror } from './finishMirror.ts';

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
  const ifReleased = <T>(value: T, otherwise: unknown) =>
    release ? sql`case when ${waiting} then ${value} else ${otherwise} end` : sql`${otherwise}`;
  return writeMirror(db, id, lease, {
    status: ifReleased(released.status, predictions.status),
    outputs: ifReleased(released.outputs, predictions.outputs),
    completedAt: ifReleased(released.completedAt, predictions.completedAt),
    costUsd: ifReleased(released.costUsd, predictions.costUsd),
    mirrorError: error,
    mirrorAttempts: sql`${predictions.mirrorAttempts} + 1`,
    mirrorNextAt: retryAt,
  });
}
